// Publishes dashboards through Grafana's HTTP API (the classic endpoints that
// Grafana 11 serves):
//   GET  /api/folders/:uid             404 -> POST /api/folders {uid, title}
//   GET  /api/dashboards/uid/:uid      404: create; same content and folder: unchanged
//   POST /api/dashboards/db            {dashboard: {…, id: null}, folderUid, message, overwrite: false}
// `folderUid` is always sent (without it an update moves the dashboard to the
// root). An update carries the version just read: a dashboard changed in between
// is refused (412 version-mismatch) rather than silently overwritten.
// Transient failures (network errors, 429, 5xx) are retried with backoff; 401,
// 403 and 412 are not, and end the run with an explicit error.

export type Outcome = 'created' | 'updated' | 'unchanged';

export interface DashboardJson {
  uid: string;
  title: string;
  [key: string]: unknown;
}

export interface PublishOptions {
  url: string;
  token: string;
  folderUid: string;
  folderTitle: string;
  dashboards: DashboardJson[];
  dryRun?: boolean;
  /** Attempts per request for transient failures (default 4). */
  attempts?: number;
  /** First retry delay; doubles each time (default 500 ms). */
  retryDelayMs?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  message?: string;
  log?: (line: string) => void;
}

export interface PublishResult {
  folder: 'exists' | 'created';
  dashboards: { uid: string; title: string; outcome: Outcome }[];
}

/** Why a publish stopped; `exitCode` is what the CLI exits with. */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

export const EXIT = { usage: 2, unauthorized: 3, forbidden: 4, conflict: 5, unreachable: 6, failed: 1 } as const;

interface Answer {
  status: number;
  body: unknown;
}

const TRANSIENT = (status: number) => status === 429 || status >= 500;

class GrafanaApi {
  constructor(private readonly options: PublishOptions) {}

  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
    const attempts = this.options.attempts ?? 4;
    let delay = this.options.retryDelayMs ?? 500;
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await fetch(new URL(path, this.options.url.endsWith('/') ? this.options.url : `${this.options.url}/`), {
          method,
          headers: {
            Authorization: `Bearer ${this.options.token}`,
            Accept: 'application/json',
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        });
        const text = await response.text();
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON (a proxy's error page): keep the text
        }
        if (!TRANSIENT(response.status)) return { status: response.status, body: parsed };
        lastProblem = `${method} ${path} answered ${response.status}`;
      } catch (error) {
        lastProblem = `${method} ${path}: ${describe(error)}`;
        if (attempt === attempts) {
          throw new PublishError(`Grafana is unreachable at ${this.options.url} (${lastProblem}) after ${attempts} attempts`, EXIT.unreachable);
        }
      }
      if (attempt < attempts) {
        this.options.log?.(`retrying (${attempt}/${attempts - 1}): ${lastProblem}`);
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
    throw new PublishError(`Grafana kept failing: ${lastProblem} (after ${attempts} attempts)`, EXIT.failed);
  }
}

function describe(error: unknown): string {
  const e = error as { cause?: { code?: string; message?: string }; name?: string; message?: string };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}

function messageOf(body: unknown): string {
  if (body && typeof body === 'object' && 'message' in body) return String((body).message);
  return typeof body === 'string' ? body.slice(0, 200) : JSON.stringify(body);
}

/** Turns an unexpected answer into the error the CLI reports. */
function fail(what: string, answer: Answer): never {
  const detail = messageOf(answer.body);
  switch (answer.status) {
    case 401:
      throw new PublishError(`${what}: 401 Unauthorized — GRAFANA_TOKEN is missing, wrong or expired (${detail})`, EXIT.unauthorized, 401);
    case 403:
      throw new PublishError(`${what}: 403 Forbidden — the service account may not do this; it needs the Editor role or edit rights on the folder (${detail})`, EXIT.forbidden, 403);
    case 412: {
      const status = answer.body && typeof answer.body === 'object' && 'status' in answer.body ? String((answer.body).status) : 'precondition-failed';
      throw new PublishError(`${what}: 412 ${status} — ${detail}`, EXIT.conflict, 412);
    }
    default:
      throw new PublishError(`${what}: unexpected ${answer.status} (${detail})`, EXIT.failed, answer.status);
  }
}

/** Our dashboard as Grafana would store it, without the fields Grafana owns. */
function comparable(dashboard: Record<string, unknown>): string {
  const { id: _id, version: _version, ...rest } = dashboard;
  return JSON.stringify(sortKeys(rest));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

export async function publish(options: PublishOptions): Promise<PublishResult> {
  const api = new GrafanaApi(options);
  const log = options.log ?? (() => undefined);
  const verb = (outcome: Outcome) => (options.dryRun ? `would be ${outcome === 'unchanged' ? 'left unchanged' : outcome}` : outcome);

  // The folder, created when missing.
  let folder: PublishResult['folder'] = 'exists';
  const folderAnswer = await api.request('GET', `api/folders/${encodeURIComponent(options.folderUid)}`);
  if (folderAnswer.status === 404) {
    folder = 'created';
    if (!options.dryRun) {
      const created = await api.request('POST', 'api/folders', { uid: options.folderUid, title: options.folderTitle });
      // 409/412: created by someone else in between, which is what we wanted.
      if (created.status !== 200 && created.status !== 409 && created.status !== 412) fail(`creating folder ${options.folderUid}`, created);
    }
    log(`folder    ${options.folderUid} (${options.folderTitle}) ${options.dryRun ? 'would be created' : 'created'}`);
  } else if (folderAnswer.status !== 200) {
    fail(`reading folder ${options.folderUid}`, folderAnswer);
  }

  const results: PublishResult['dashboards'] = [];
  for (const dashboard of options.dashboards) {
    const current = await api.request('GET', `api/dashboards/uid/${encodeURIComponent(dashboard.uid)}`);
    let outcome: Outcome;
    let version: number | undefined;
    if (current.status === 404) {
      outcome = 'created';
    } else if (current.status === 200) {
      const body = current.body as { dashboard: Record<string, unknown>; meta?: { folderUid?: string } };
      version = typeof body.dashboard.version === 'number' ? body.dashboard.version : undefined;
      const sameFolder = (body.meta?.folderUid ?? '') === options.folderUid;
      outcome = sameFolder && comparable(body.dashboard) === comparable(dashboard) ? 'unchanged' : 'updated';
    } else {
      fail(`reading dashboard ${dashboard.uid}`, current);
    }
    if (outcome !== 'unchanged' && !options.dryRun) {
      const saved = await api.request('POST', 'api/dashboards/db', {
        dashboard: { ...dashboard, id: null, ...(version === undefined ? {} : { version }) },
        folderUid: options.folderUid,
        message: options.message ?? 'npm run dashboards:publish',
        overwrite: false,
      });
      if (saved.status !== 200) fail(`saving dashboard ${dashboard.uid}`, saved);
    }
    results.push({ uid: dashboard.uid, title: dashboard.title, outcome });
    log(`${verb(outcome).padEnd(9)} ${dashboard.uid} (${dashboard.title})`);
  }
  return { folder, dashboards: results };
}
