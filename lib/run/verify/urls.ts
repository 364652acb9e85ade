// The candidate's URLs: checked before anything is sent (http or https, no path), and redacted before they are printed or written.

/** Why a URL is no target's http(s) URL, and how to write it; undefined when it is one. */
export function httpUrlProblem(url: string): string | undefined {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  if (u && ["http:", "https:"].includes(u.protocol) && u.hostname) return undefined;
  return `is not an http(s) URL: write it as ${/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? "http://127.0.0.1:8000" : `http://${url}`}`;
}

export function checkedUrl(what: string, url: string): string {
  const problem = httpUrlProblem(url);
  if (problem) throw new TargetUrlError(`${what} URL ${JSON.stringify(url)} ${problem}`);
  return url;
}

/** A target URL that is not an http(s) URL. */
export class TargetUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TargetUrlError";
  }
}

/** A URL without user-info, for reports and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = "***";
      u.password = "";
    }
    return u.toString().replace(/\/$/, "");
  } catch {
    return "(invalid URL)";
  }
}
