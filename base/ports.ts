// TCP ports on loopback: a free one to listen on, and waiting until one answers.
// Used by the stack supervisor, the load tests and the tests, which start real
// servers on ports nobody else holds.

import { readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

// Why not simply listen on port 0 and hand that port on: the kernel picks port-0
// listeners and outgoing connections (of every test running beside this one, of DNS
// lookups) from its ephemeral range, so a port released by this function was sometimes
// taken again before its user bound it (Docker's proxy for the compose stack test failed
// with "address already in use"). The kernel never picks a port below that range, so
// only another caller of freePort could take one: never in this process (each port is
// handed out once), and in another process one chance in thousands while it is unbound.
const EPHEMERAL_START = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768; // Linux's default; elsewhere the picks below are merely likely to be free
  }
})();
const PICK_FROM = 10_000; // above the ports of common servers (Prometheus, Grafana, Redis…)
const handedOut = new Set<number>();

/** A port free on `host` right now, outside the kernel's ephemeral range (see above). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  if (EPHEMERAL_START - PICK_FROM < 1_000) return listenOn(host, 0);
  for (let attempt = 0; ; attempt++) {
    const port = PICK_FROM + Math.floor(Math.random() * (EPHEMERAL_START - PICK_FROM));
    if (handedOut.has(port)) continue;
    handedOut.add(port); // before the check: a concurrent call must not pick it meanwhile
    try {
      return await listenOn(host, port);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 1_000) throw error;
    }
  }
}

/** Listens on host:port, closes, and resolves with the port the listener had. */
function listenOn(host: string, port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Resolves when something accepts TCP connections on host:port. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const socket = createConnection({ port, host }, () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
