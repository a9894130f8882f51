/**
 * Input hints the forms give before calling the API. The API's rule (docs/access.md) decides; these
 * only spare the person a round trip, so they mirror it and never go beyond it.
 */

/** The translation keys of the password rule's parts that `password` breaks; empty: none. */
export function passwordProblems(password: string, username: string): string[] {
  const problems: string[] = [];
  if ([...password].length < 12) problems.push('validation.passwordLength');
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (classes < 3) problems.push('validation.passwordClasses');
  if (username && password.toLowerCase().includes(username.toLowerCase())) problems.push('validation.passwordUsername');
  return problems;
}

export function isTotpCode(code: string): boolean {
  return /^[0-9]{6}$/.test(code);
}
