import { useState } from 'react';

/**
 * A form's submission: `busy` while `action` runs, the error it threw (shown by the form) until
 * the next try. The forms of the console call the API this way and keep no rules of their own.
 */
export function useSubmit<T>(action: (values: T) => Promise<void>): { readonly busy: boolean; readonly error: unknown; readonly setError: (e: unknown) => void; readonly submit: (values: T) => Promise<void> } {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (values: T): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await action(values);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, submit };
}
