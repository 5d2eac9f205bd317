// A small Hetzner Cloud API client (fetch): the endpoints provisioning needs, list
// pagination, the error format, and waiting for actions. Base URL overridable
// (HCLOUD_API_URL) so tests can point it at a local stand-in.
//
// API conventions followed here (docs.hetzner.cloud):
// - Authorization: Bearer <token>; JSON bodies.
// - Errors: HTTP 4xx/5xx with {"error": {"code", "message", "details"}}.
// - Lists: ?page=&per_page= (max 50) and meta.pagination.next_page (null on the last
//   page); ?label_selector=k=v,... filters by labels, ?name= by name.
// - Creating or changing a resource returns actions ({id, command, status: running |
//   success | error, progress, error}); GET /actions/{id} until it is no longer running.

export interface Labels {
  [key: string]: string;
}

export interface Action {
  id: number;
  command: string;
  status: 'running' | 'success' | 'error';
  progress: number;
  error: { code: string; message: string } | null;
}

export interface Deprecation {
  announced: string;
  unavailable_after: string;
}

export interface ServerType {
  id: number;
  name: string;
  description: string;
  cores: number;
  memory: number;
  disk: number;
  architecture: string;
  /** Deprecated by Hetzner in favour of the per-location field, still returned. */
  deprecation: Deprecation | null;
  /** Where the type can be ordered, with a deprecation per location (2025 API). */
  locations?: { id: number; name: string; deprecation: Deprecation | null }[];
}

export interface SshKey {
  id: number;
  name: string;
  fingerprint: string;
  public_key: string;
  labels: Labels;
}

export interface FirewallRule {
  direction: 'in' | 'out';
  protocol: 'tcp' | 'udp' | 'icmp' | 'esp' | 'gre';
  port?: string | null;
  source_ips?: string[];
  destination_ips?: string[];
  description?: string | null;
}

export interface Firewall {
  id: number;
  name: string;
  labels: Labels;
  rules: FirewallRule[];
  applied_to: { type: 'server' | 'label_selector'; server?: { id: number } }[];
}

export interface Volume {
  id: number;
  name: string;
  size: number;
  server: number | null;
  location: { name: string };
  linux_device: string;
  labels: Labels;
  format: string | null;
}

export interface Server {
  id: number;
  name: string;
  status: string;
  public_net: { ipv4: { ip: string } | null; ipv6: { ip: string } | null };
  server_type: { name: string };
  location?: { name: string };
  labels: Labels;
  volumes?: number[];
}

export class HcloudError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly apiMessage: string,
    readonly details: unknown,
    readonly request: string,
  ) {
    super(`Hetzner API ${request}: ${status} ${code}: ${apiMessage}${HcloudError.describeDetails(details)}`);
    this.name = 'HcloudError';
  }

  private static describeDetails(details: unknown): string {
    const fields = (details as { fields?: { name: string; messages: string[] }[] } | undefined)?.fields;
    return fields?.length ? ` (${fields.map((f) => `${f.name}: ${f.messages.join(', ')}`).join('; ')})` : '';
  }
}

export interface HcloudOptions {
  token: string;
  baseUrl: string;
  pollIntervalMs: number;
  actionTimeoutMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class HcloudClient {
  constructor(private readonly options: HcloudOptions) {}

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, query: Record<string, string> = {}): Promise<T> {
    const url = new URL(`${this.options.baseUrl.replace(/\/+$/, '')}${path}`);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    const what = `${method} ${path}`;
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.options.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (response.ok) return (text ? JSON.parse(text) : {}) as T;
      // Reads are safe to repeat when the API is rate limiting or briefly failing.
      if (method === 'GET' && (response.status === 429 || response.status >= 500) && attempt < 4) {
        const reset = Number(response.headers.get('ratelimit-reset'));
        await sleep(Number.isFinite(reset) && reset > 0 ? Math.min(10_000, Math.max(0, reset * 1000 - Date.now())) : 500 * attempt);
        continue;
      }
      let error: { code?: string; message?: string; details?: unknown } = {};
      try {
        error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
      } catch {
        // not the documented error format (a proxy in between?): report the body
      }
      throw new HcloudError(response.status, error.code ?? 'unknown', error.message ?? text.slice(0, 200), error.details, what);
    }
  }

  /** Every item of a list endpoint, following meta.pagination.next_page. */
  async listAll<T>(path: string, key: string, query: Record<string, string> = {}): Promise<T[]> {
    const items: T[] = [];
    for (let page: number | null = 1; page !== null; ) {
      const body: Record<string, unknown> & { meta?: { pagination?: { next_page: number | null } } } = await this.request('GET', path, undefined, {
        ...query,
        page: String(page),
        per_page: '50',
      });
      items.push(...((body[key] as T[] | undefined) ?? []));
      page = body.meta?.pagination?.next_page ?? null;
    }
    return items;
  }

  /** Polls actions until none is running; fails on the first that ends in error. */
  async waitForActions(actions: readonly Action[]): Promise<void> {
    const deadline = Date.now() + this.options.actionTimeoutMs;
    for (const first of actions) {
      let action = first;
      while (action.status === 'running') {
        if (Date.now() > deadline) throw new Error(`Hetzner action ${action.id} (${action.command}) still running after ${this.options.actionTimeoutMs} ms`);
        await sleep(this.options.pollIntervalMs);
        action = (await this.request<{ action: Action }>('GET', `/actions/${action.id}`)).action;
      }
      if (action.status === 'error') {
        throw new Error(`Hetzner action ${action.id} (${action.command}) failed: ${action.error?.code ?? 'error'}: ${action.error?.message ?? 'no message'}`);
      }
    }
  }

  listSshKeys(query: Record<string, string>) {
    return this.listAll<SshKey>('/ssh_keys', 'ssh_keys', query);
  }
  listFirewalls(query: Record<string, string>) {
    return this.listAll<Firewall>('/firewalls', 'firewalls', query);
  }
  listVolumes(query: Record<string, string>) {
    return this.listAll<Volume>('/volumes', 'volumes', query);
  }
  listServers(query: Record<string, string>) {
    return this.listAll<Server>('/servers', 'servers', query);
  }
  async serverType(name: string): Promise<ServerType | undefined> {
    return (await this.listAll<ServerType>('/server_types', 'server_types', { name }))[0];
  }

  async createSshKey(body: { name: string; public_key: string; labels: Labels }): Promise<SshKey> {
    return (await this.request<{ ssh_key: SshKey }>('POST', '/ssh_keys', body)).ssh_key;
  }

  async createFirewall(body: { name: string; labels: Labels; rules: FirewallRule[] }): Promise<Firewall> {
    const created = await this.request<{ firewall: Firewall; actions: Action[] }>('POST', '/firewalls', body);
    await this.waitForActions(created.actions ?? []);
    return created.firewall;
  }

  async setFirewallRules(id: number, rules: FirewallRule[]): Promise<void> {
    await this.waitForActions((await this.request<{ actions: Action[] }>('POST', `/firewalls/${id}/actions/set_rules`, { rules })).actions);
  }

  async applyFirewallToServer(firewallId: number, serverId: number): Promise<void> {
    const body = { apply_to: [{ type: 'server', server: { id: serverId } }] };
    await this.waitForActions((await this.request<{ actions: Action[] }>('POST', `/firewalls/${firewallId}/actions/apply_to_resources`, body)).actions);
  }

  async createVolume(body: { name: string; size: number; location: string; labels: Labels; automount: false }): Promise<Volume> {
    const created = await this.request<{ volume: Volume; action: Action | null; next_actions: Action[] }>('POST', '/volumes', body);
    await this.waitForActions([...(created.action ? [created.action] : []), ...(created.next_actions ?? [])]);
    return created.volume;
  }

  async attachVolume(volumeId: number, serverId: number): Promise<void> {
    const { action } = await this.request<{ action: Action }>('POST', `/volumes/${volumeId}/actions/attach`, { server: serverId, automount: false });
    await this.waitForActions([action]);
  }

  async createServer(body: {
    name: string;
    server_type: string;
    image: string;
    location: string;
    ssh_keys: number[];
    firewalls: { firewall: number }[];
    volumes: number[];
    automount: false;
    user_data: string;
    labels: Labels;
    public_net: { enable_ipv4: boolean; enable_ipv6: boolean };
  }): Promise<Server> {
    const created = await this.request<{ server: Server; action: Action; next_actions: Action[] }>('POST', '/servers', body);
    await this.waitForActions([created.action, ...(created.next_actions ?? [])]);
    return created.server;
  }
}
