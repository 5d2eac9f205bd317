// A STAND-IN for the Hetzner Cloud API, for tests only: no Hetzner API can be reached
// from the test machines. A local HTTP server that follows Hetzner's documented API
// for the endpoints provisioning uses, including its conventions:
//   - Authorization: Bearer <token>, else 401 {"error":{"code":"unauthorized",...}}
//   - errors as {"error": {"code", "message", "details"}} (invalid_input with
//     details.fields, uniqueness_error 409, not_found 404, json_error)
//   - lists with ?page, ?per_page (default 25, max 50), meta.pagination
//     {page, per_page, previous_page, next_page, last_page, total_entries},
//     ?label_selector (k=v, k==v, k!=v, k, !k, k in (a,b), k notin (a,b), comma = and),
//     ?name, and ?fingerprint for SSH keys
//   - creates answer 201 with the resource and its actions; actions run ("running")
//     until polled with GET /actions/{id}, then succeed
//   - server types with the top-level `deprecation` and the per-location one
// It keeps every request for the tests to inspect, and the created resources'
// request bodies (a server's user_data included).

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
// The resource types are the client's (deploy/provision/hcloud.ts), so that the
// stand-in cannot drift from what provisioning reads.
import type { Action, Deprecation, Labels, ServerType } from '../provision/hcloud.ts';

export interface StandinRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

/**
 * A server type as the stand-in serves it: the client's ServerType with what the
 * API always sends made exact: `architecture` is x86 or arm, and `locations`
 * (added in 2025; optional in the client, which still checks for it) is always there.
 */
export type StandinServerType = Required<ServerType> & { architecture: 'x86' | 'arm' };

/** An action as the stand-in keeps it: the API's fields the client does not read, and its polls left. */
interface ActionRecord extends Action {
  started: string;
  finished: string | null;
  resources: { id: number; type: string }[];
  /** Polls left before it finishes. */
  pollsLeft: number;
}

const LOCATIONS = ['fsn1', 'nbg1', 'hel1', 'ash', 'hil', 'sin'];

const DEPRECATED: Deprecation = { announced: '2025-06-01T00:00:00Z', unavailable_after: '2025-12-31T00:00:00Z' };

/** A few server types shaped like the real ones: a current one, a too small one, deprecated ones. */
export function defaultServerTypes(): StandinServerType[] {
  const here = (deprecation: (loc: string) => Deprecation | null) => LOCATIONS.slice(0, 3).map((name, i) => ({ id: i + 1, name, deprecation: deprecation(name) }));
  return [
    { id: 101, name: 'cx33', description: 'CX33', cores: 4, memory: 8, disk: 80, architecture: 'x86', deprecation: null, locations: here(() => null) },
    { id: 102, name: 'cx23', description: 'CX23', cores: 2, memory: 4, disk: 40, architecture: 'x86', deprecation: null, locations: here(() => null) },
    // Deprecated everywhere (the top-level field).
    { id: 103, name: 'cx32', description: 'CX32', cores: 4, memory: 8, disk: 80, architecture: 'x86', deprecation: DEPRECATED, locations: here(() => DEPRECATED) },
    // Deprecated in one location only (the per-location field).
    { id: 104, name: 'cpx31', description: 'CPX31', cores: 4, memory: 8, disk: 160, architecture: 'x86', deprecation: null, locations: here((l) => (l === 'nbg1' ? DEPRECATED : null)) },
  ];
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = {},
  ) {
    super(message);
  }
}

const invalid = (field: string, message: string) => new ApiError(400, 'invalid_input', `invalid input in field '${field}'`, { fields: [{ name: field, messages: [message] }] });

/** Splits a label selector on commas that are not inside parentheses. */
function selectorTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) terms.push(current.trim());
  return terms;
}

export function matchesSelector(labels: Labels, selector: string): boolean {
  return selectorTerms(selector).every((term) => {
    let m: RegExpExecArray | null;
    if ((m = /^([\w.\-/]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      const has = m[1]! in labels && values.includes(labels[m[1]!]!);
      return m[2] === 'in' ? has : !has;
    }
    if ((m = /^([\w.\-/]+)\s*!=\s*(.*)$/.exec(term))) return labels[m[1]!] !== m[2];
    if ((m = /^([\w.\-/]+)\s*==?\s*(.*)$/.exec(term))) return labels[m[1]!] === m[2];
    if ((m = /^!([\w.\-/]+)$/.exec(term))) return !(m[1]! in labels);
    if ((m = /^([\w.\-/]+)$/.exec(term))) return m[1]! in labels;
    throw new ApiError(400, 'invalid_input', `invalid label_selector: ${term}`);
  });
}

function fingerprintOf(publicKey: string): string {
  const blob = Buffer.from(publicKey.trim().split(/\s+/)[1] ?? '', 'base64');
  return createHash('md5').update(blob).digest('hex').match(/../g)!.join(':');
}

export class HetznerStandin {
  readonly token: string;
  readonly requests: StandinRequest[] = [];
  readonly serverTypes: StandinServerType[];
  readonly sshKeys: Record<string, unknown>[] = [];
  readonly firewalls: Record<string, unknown>[] = [];
  readonly volumes: Record<string, unknown>[] = [];
  readonly servers: Record<string, unknown>[] = [];
  private readonly actions = new Map<number, ActionRecord>();
  private nextId = 1000;
  private server?: Server;
  /** Polls an action needs before it succeeds (exercises the client's waiting). */
  actionPolls = 1;

  constructor(options: { token: string; serverTypes?: StandinServerType[] }) {
    this.token = options.token;
    this.serverTypes = options.serverTypes ?? defaultServerTypes();
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Requests that changed something (POST, PUT, DELETE). */
  get writes(): StandinRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  private id(): number {
    return this.nextId++;
  }

  private action(command: string, resources: { id: number; type: string }[]): Omit<ActionRecord, 'pollsLeft'> {
    const record: ActionRecord = {
      id: this.id(),
      command,
      status: 'running',
      progress: 0,
      started: new Date().toISOString(),
      finished: null,
      resources,
      error: null,
      pollsLeft: this.actionPolls,
    };
    this.actions.set(record.id, record);
    return this.publicAction(record);
  }

  private publicAction(record: ActionRecord): Omit<ActionRecord, 'pollsLeft'> {
    const { pollsLeft: _pollsLeft, ...rest } = record;
    return { ...rest };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const query = Object.fromEntries(url.searchParams);
    let body: unknown;
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'ratelimit-limit': '3600',
        'ratelimit-remaining': '3599',
        'ratelimit-reset': String(Math.floor(Date.now() / 1000) + 1),
      });
      res.end(JSON.stringify(payload));
    };
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) throw new ApiError(401, 'unauthorized', 'unable to authenticate');
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          throw new ApiError(400, 'json_error', 'invalid JSON in the request body');
        }
      }
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, body });
      const [status, payload] = this.route(req.method ?? 'GET', url.pathname.replace(/^\/v1/, ''), query, (body ?? {}) as Record<string, unknown>);
      send(status, payload);
    } catch (error) {
      if (error instanceof ApiError) send(error.status, { error: { code: error.code, message: error.message, details: error.details } });
      else send(500, { error: { code: 'server_error', message: (error as Error).message, details: {} } });
    }
  }

  private list(items: readonly Record<string, unknown>[], key: string, query: Record<string, string>, filter: (item: Record<string, unknown>) => boolean = () => true): [number, unknown] {
    let matching = items.filter(filter);
    if (query.label_selector) matching = matching.filter((item) => matchesSelector(item.labels as Labels, query.label_selector!));
    if (query.name) matching = matching.filter((item) => item.name === query.name);
    const perPage = Math.min(50, Math.max(1, Number(query.per_page ?? 25)));
    const page = Math.max(1, Number(query.page ?? 1));
    const lastPage = Math.max(1, Math.ceil(matching.length / perPage));
    return [
      200,
      {
        [key]: matching.slice((page - 1) * perPage, page * perPage),
        meta: {
          pagination: {
            page,
            per_page: perPage,
            previous_page: page > 1 ? page - 1 : null,
            next_page: page < lastPage ? page + 1 : null,
            last_page: lastPage,
            total_entries: matching.length,
          },
        },
      },
    ];
  }

  private find(items: readonly Record<string, unknown>[], id: string, what: string): Record<string, unknown> {
    const item = items.find((i) => String(i.id) === id);
    if (!item) throw new ApiError(404, 'not_found', `${what} with ID '${id}' not found`);
    return item;
  }

  private labels(body: Record<string, unknown>): Labels {
    const labels = (body.labels ?? {}) as Labels;
    for (const [key, value] of Object.entries(labels)) {
      if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9]([\w.-]{0,61}[A-Za-z0-9])?$/.test(key) || typeof value !== 'string' || value.length > 63) throw invalid('labels', `invalid label ${key}`);
    }
    return labels;
  }

  private requireName(body: Record<string, unknown>, items: readonly Record<string, unknown>[], what: string): string {
    if (typeof body.name !== 'string' || body.name === '') throw invalid('name', 'Missing data for required field.');
    if (items.some((i) => i.name === body.name)) throw new ApiError(409, 'uniqueness_error', `${what} with the same name already exists`, { fields: [{ name: 'name' }] });
    return body.name;
  }

  private route(method: string, path: string, query: Record<string, string>, body: Record<string, unknown>): [number, unknown] {
    const parts = path.split('/').filter(Boolean);
    const [collection, id = '', sub, actionName] = parts;
    const created = new Date().toISOString();

    if (collection === 'actions' && id && method === 'GET') {
      const record = this.actions.get(Number(id));
      if (!record) throw new ApiError(404, 'not_found', `action with ID '${id}' not found`);
      if (record.status === 'running') {
        if (record.pollsLeft > 0) {
          record.pollsLeft--;
          record.progress = 50;
        } else {
          record.status = 'success';
          record.progress = 100;
          record.finished = new Date().toISOString();
        }
      }
      return [200, { action: this.publicAction(record) }];
    }

    if (collection === 'server_types' && method === 'GET') {
      if (id) return [200, { server_type: this.find(this.serverTypes, id, 'server_type') }];
      return this.list(this.serverTypes, 'server_types', { ...query, label_selector: '' });
    }

    if (collection === 'ssh_keys') {
      if (method === 'GET' && !id) return this.list(this.sshKeys, 'ssh_keys', query, (k) => !query.fingerprint || k.fingerprint === query.fingerprint);
      if (method === 'GET') return [200, { ssh_key: this.find(this.sshKeys, id, 'ssh_key') }];
      if (method === 'POST' && !id) {
        const name = this.requireName(body, this.sshKeys, 'SSH key');
        const publicKey = body.public_key;
        if (typeof publicKey !== 'string' || !/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+/.test(publicKey)) throw invalid('public_key', 'invalid public key');
        const fingerprint = fingerprintOf(publicKey);
        if (this.sshKeys.some((k) => k.fingerprint === fingerprint)) throw new ApiError(409, 'uniqueness_error', 'SSH key with the same fingerprint already exists', { fields: [{ name: 'public_key' }] });
        const key = { id: this.id(), name, fingerprint, public_key: publicKey, labels: this.labels(body), created };
        this.sshKeys.push(key);
        return [201, { ssh_key: key }];
      }
    }

    if (collection === 'firewalls') {
      if (method === 'GET' && !id) return this.list(this.firewalls, 'firewalls', query);
      if (method === 'GET' && !sub) return [200, { firewall: this.find(this.firewalls, id, 'firewall') }];
      if (method === 'POST' && !id) {
        const name = this.requireName(body, this.firewalls, 'firewall');
        const rules = this.rules(body.rules ?? []);
        const firewall = { id: this.id(), name, labels: this.labels(body), rules, applied_to: [] as unknown[], created };
        this.firewalls.push(firewall);
        return [201, { firewall, actions: rules.length ? [this.action('set_firewall_rules', [{ id: firewall.id, type: 'firewall' }])] : [] }];
      }
      if (method === 'POST' && sub === 'actions') {
        const firewall = this.find(this.firewalls, id, 'firewall');
        if (actionName === 'set_rules') {
          firewall.rules = this.rules(body.rules);
          return [201, { actions: [this.action('set_firewall_rules', [{ id: firewall.id as number, type: 'firewall' }])] }];
        }
        if (actionName === 'apply_to_resources') {
          const targets = body.apply_to as { type: string; server?: { id: number } }[] | undefined;
          if (!Array.isArray(targets)) throw invalid('apply_to', 'Missing data for required field.');
          for (const target of targets) {
            const server = this.find(this.servers, String(target.server?.id), 'server');
            (firewall.applied_to as unknown[]).push({ type: 'server', server: { id: server.id } });
          }
          return [201, { actions: [this.action('apply_firewall', [{ id: firewall.id as number, type: 'firewall' }])] }];
        }
      }
    }

    if (collection === 'volumes') {
      if (method === 'GET' && !id) return this.list(this.volumes, 'volumes', query);
      if (method === 'GET' && !sub) return [200, { volume: this.find(this.volumes, id, 'volume') }];
      if (method === 'POST' && !id) {
        const name = this.requireName(body, this.volumes, 'volume');
        if (typeof body.size !== 'number' || body.size < 10 || body.size > 10_240) throw invalid('size', 'size must be between 10 and 10240 GB');
        if (!body.location && !body.server) throw invalid('location', 'location or server is required');
        if (body.location && !LOCATIONS.includes(body.location as string)) throw invalid('location', 'unknown location');
        const volumeId = this.id();
        const volume = {
          id: volumeId,
          name,
          size: body.size,
          server: null,
          status: 'available',
          location: { name: body.location },
          format: body.format ?? null,
          linux_device: `/dev/disk/by-id/scsi-0HC_Volume_${volumeId}`,
          labels: this.labels(body),
          protection: { delete: false },
          created,
        };
        this.volumes.push(volume);
        return [201, { volume, action: this.action('create_volume', [{ id: volumeId, type: 'volume' }]), next_actions: [] }];
      }
      if (method === 'POST' && sub === 'actions' && actionName === 'attach') {
        const volume = this.find(this.volumes, id, 'volume');
        const server = this.find(this.servers, String(body.server), 'server');
        if (volume.server) throw new ApiError(422, 'volume_already_attached', 'volume is already attached to a server');
        volume.server = server.id;
        (server.volumes as unknown[]).push(volume.id);
        return [201, { action: this.action('attach_volume', [{ id: volume.id as number, type: 'volume' }]) }];
      }
    }

    if (collection === 'servers') {
      if (method === 'GET' && !id) return this.list(this.servers.map((s) => this.publicServer(s)), 'servers', query);
      if (method === 'GET' && !sub) return [200, { server: this.publicServer(this.find(this.servers, id, 'server')) }];
      if (method === 'POST' && !id) return this.createServer(body, created);
    }

    throw new ApiError(404, 'not_found', `no route ${method} ${path}`);
  }

  private rules(value: unknown): unknown[] {
    if (!Array.isArray(value)) throw invalid('rules', 'Not a valid list.');
    return value.map((rule: Record<string, unknown>, i) => {
      if (!['in', 'out'].includes(rule.direction as string)) throw invalid(`rules[${i}].direction`, 'must be in or out');
      if (!['tcp', 'udp', 'icmp', 'esp', 'gre'].includes(rule.protocol as string)) throw invalid(`rules[${i}].protocol`, 'unknown protocol');
      if (['tcp', 'udp'].includes(rule.protocol as string) && !rule.port) throw invalid(`rules[${i}].port`, 'port is required for tcp and udp');
      if (rule.direction === 'in' && !(rule.source_ips as unknown[] | undefined)?.length) throw invalid(`rules[${i}].source_ips`, 'source_ips is required for inbound rules');
      return { direction: rule.direction, protocol: rule.protocol, port: rule.port ?? null, source_ips: rule.source_ips ?? [], destination_ips: rule.destination_ips ?? [], description: rule.description ?? null };
    });
  }

  private createServer(body: Record<string, unknown>, created: string): [number, unknown] {
    const name = this.requireName(body, this.servers, 'server');
    const type = this.serverTypes.find((t) => t.name === body.server_type || t.id === body.server_type);
    if (!type) throw invalid('server_type', 'server type not found');
    if (typeof body.image !== 'string' || !body.image) throw invalid('image', 'Missing data for required field.');
    const location = body.location as string;
    if (!LOCATIONS.includes(location)) throw invalid('location', 'unknown location');
    if (!type.locations.some((l) => l.name === location)) throw invalid('server_type', 'unsupported location for server type');
    if (typeof body.user_data === 'string' && body.user_data.length > 32 * 1024) throw invalid('user_data', 'user_data must not exceed 32 KiB');
    const sshKeys = ((body.ssh_keys ?? []) as (number | string)[]).map((k) => this.sshKeys.find((s) => s.id === k || s.name === k) ?? (() => { throw invalid('ssh_keys', `ssh key ${k} not found`); })());
    const serverId = this.id();
    const volumes = ((body.volumes ?? []) as number[]).map((v) => {
      const volume = this.find(this.volumes, String(v), 'volume');
      if ((volume.location as { name: string }).name !== location) throw invalid('volumes', 'volume is in another location');
      if (volume.server) throw new ApiError(422, 'volume_already_attached', 'volume is already attached to a server');
      volume.server = serverId;
      return volume.id;
    });
    for (const { firewall } of (body.firewalls ?? []) as { firewall: number }[]) {
      (this.find(this.firewalls, String(firewall), 'firewall').applied_to as unknown[]).push({ type: 'server', server: { id: serverId } });
    }
    const n = this.servers.length + 10;
    const server = {
      id: serverId,
      name,
      status: 'initializing',
      created,
      public_net: { ipv4: { ip: `203.0.113.${n}`, blocked: false, dns_ptr: `static.${n}.example` }, ipv6: { ip: `2001:db8:${n}::/64`, blocked: false, dns_ptr: [] }, floating_ips: [], firewalls: [] },
      server_type: type,
      location: { name: location },
      image: { name: body.image },
      labels: this.labels(body),
      volumes,
      // Not part of Hetzner's server resource: kept for the tests.
      user_data: body.user_data,
      ssh_keys: sshKeys.map((k) => k.id),
    };
    this.servers.push(server);
    return [
      201,
      {
        server: this.publicServer(server),
        action: this.action('create_server', [{ id: serverId, type: 'server' }]),
        next_actions: [this.action('start_server', [{ id: serverId, type: 'server' }])],
        // Hetzner sends a root password only when no SSH key was given.
        root_password: sshKeys.length ? null : 'generated-password',
      },
    ];
  }

  private publicServer(server: Record<string, unknown>): Record<string, unknown> {
    const { user_data: _userData, ssh_keys: _sshKeys, ...rest } = server;
    return { ...rest, status: 'running' };
  }
}
