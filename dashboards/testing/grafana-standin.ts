// A local stand-in for the part of Grafana's HTTP API that dashboards:publish
// uses, for tests only (no Grafana server can be installed here). It implements
// the documented endpoints and status codes:
//   GET  /api/folders/:uid          200 folder | 404
//   POST /api/folders               200 folder | 409 the uid exists
//   GET  /api/dashboards/uid/:uid   200 {dashboard, meta: {folderUid, version}} | 404
//   POST /api/dashboards/db         200 {id, uid, url, status: "success", version}
//                                   412 {status: "version-mismatch"} when `version` is not the current one
//                                       and overwrite is false; {status: "name-exists"} when another
//                                       dashboard of the folder has the title
//   401 without the right bearer token; 403 for a read-only token on a POST.
// Faults can be injected: the next N requests answer 503, or the socket is destroyed.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredDashboard {
  dashboard: Record<string, unknown> & { uid: string; title: string; version: number; id: number };
  folderUid: string;
}

export interface GrafanaStandIn {
  url: string;
  folders: Map<string, { uid: string; title: string; id: number }>;
  dashboards: Map<string, StoredDashboard>;
  requests: { method: string; path: string; body?: unknown }[];
  /** The next `count` requests fail this way. */
  failNext(count: number, how: 'status-503' | 'reset'): void;
  /** Edits a stored dashboard as a user would in the UI (bumps its version). */
  editInUi(uid: string, change: Record<string, unknown>): void;
  close(): Promise<void>;
}

export async function startGrafanaStandIn(options: { token: string; readOnlyToken?: string }): Promise<GrafanaStandIn> {
  const folders = new Map<string, { uid: string; title: string; id: number }>();
  const dashboards = new Map<string, StoredDashboard>();
  const requests: GrafanaStandIn['requests'] = [];
  let nextId = 1;
  let faults: { count: number; how: 'status-503' | 'reset' } = { count: 0, how: 'status-503' };

  const send = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };

  const handle = (request: IncomingMessage, response: ServerResponse, raw: string) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    const field = (name: string) => (typeof body?.[name] === 'string' ? body[name] : '');
    requests.push({ method: request.method ?? '', path, body });
    if (faults.count > 0) {
      faults.count--;
      if (faults.how === 'reset') return void request.socket.destroy();
      return send(response, 503, { message: 'service unavailable' });
    }
    const auth = request.headers.authorization;
    const readOnly = options.readOnlyToken !== undefined && auth === `Bearer ${options.readOnlyToken}`;
    if (auth !== `Bearer ${options.token}` && !readOnly) return send(response, 401, { message: 'Unauthorized' });
    if (readOnly && request.method !== 'GET') return send(response, 403, { message: 'Access denied' });

    let match: RegExpExecArray | null;
    if (request.method === 'GET' && (match = /^\/api\/folders\/([^/]+)$/.exec(path))) {
      const folder = folders.get(decodeURIComponent(match[1]!));
      return folder ? send(response, 200, { ...folder, url: `/dashboards/f/${folder.uid}/`, version: 1 }) : send(response, 404, { message: 'folder not found', status: 'not-found' });
    }
    if (request.method === 'POST' && path === '/api/folders') {
      const uid = field('uid');
      const title = field('title');
      if (!uid || !title) return send(response, 400, { message: 'uid and title are required' });
      if (folders.has(uid)) return send(response, 409, { message: 'a folder with the same uid already exists' });
      const folder = { uid, title, id: nextId++ };
      folders.set(uid, folder);
      return send(response, 200, { ...folder, url: `/dashboards/f/${uid}/`, version: 1 });
    }
    if (request.method === 'GET' && (match = /^\/api\/dashboards\/uid\/([^/]+)$/.exec(path))) {
      const stored = dashboards.get(decodeURIComponent(match[1]!));
      if (!stored) return send(response, 404, { message: 'Dashboard not found' });
      return send(response, 200, { dashboard: stored.dashboard, meta: { folderUid: stored.folderUid, version: stored.dashboard.version, slug: stored.dashboard.uid } });
    }
    if (request.method === 'POST' && path === '/api/dashboards/db') {
      const dashboard = body?.dashboard as (Record<string, unknown> & { uid?: string; title?: string; version?: number }) | undefined;
      if (!dashboard?.uid || !dashboard.title) return send(response, 400, { message: 'Dashboard title and uid are required' });
      const folderUid = field('folderUid');
      if (folderUid && !folders.has(folderUid)) return send(response, 400, { message: 'folder not found' });
      const overwrite = body?.overwrite === true;
      const existing = dashboards.get(dashboard.uid);
      const sameTitle = [...dashboards.values()].find((d) => d.folderUid === folderUid && d.dashboard.title === dashboard.title && d.dashboard.uid !== dashboard.uid);
      if (sameTitle && !overwrite) return send(response, 412, { message: 'A dashboard with the same name in the folder already exists', status: 'name-exists' });
      if (existing && !overwrite && dashboard.version !== existing.dashboard.version) {
        return send(response, 412, { message: 'The dashboard has been changed by someone else', status: 'version-mismatch' });
      }
      const version = (existing?.dashboard.version ?? 0) + 1;
      const id = existing?.dashboard.id ?? nextId++;
      dashboards.set(dashboard.uid, { dashboard: { ...dashboard, uid: dashboard.uid, title: dashboard.title, id, version }, folderUid });
      return send(response, 200, { id, uid: dashboard.uid, url: `/d/${dashboard.uid}/`, status: 'success', version, slug: dashboard.uid });
    }
    return send(response, 404, { message: 'Not found' });
  };

  const server: Server = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', () => handle(request, response, raw));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    folders,
    dashboards,
    requests,
    failNext: (count, how) => (faults = { count, how }),
    editInUi: (uid, change) => {
      const stored = dashboards.get(uid);
      if (!stored) throw new Error(`no dashboard ${uid}`);
      stored.dashboard = { ...stored.dashboard, ...change, version: stored.dashboard.version + 1 };
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
