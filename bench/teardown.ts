/**
 * Undo steps, run last-registered first. Every step runs even if an earlier one fails; `run` is
 * idempotent, so the runner can call it both after a benchmark and from a signal handler.
 */
export class Teardown {
  readonly #steps: { readonly label: string; readonly undo: () => Promise<unknown> }[] = [];

  add(label: string, undo: () => Promise<unknown>): void {
    this.#steps.push({ label, undo });
  }

  /** The steps that failed, as one line each (empty when everything was undone). */
  async run(): Promise<string[]> {
    const problems: string[] = [];
    for (let step = this.#steps.pop(); step; step = this.#steps.pop()) {
      try {
        await step.undo();
      } catch (e) {
        problems.push(`${step.label}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return problems;
  }
}
