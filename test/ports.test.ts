// freePort hands out ports the kernel never picks by itself (base/ports.ts says why).

import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../base/ports.ts';

describe('freePort', () => {
  it('picks ports below the ephemeral range, where port-0 listeners and outgoing connections never land', async () => {
    const [ephemeralStart] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    const picks = await Promise.all(Array.from({ length: 40 }, () => freePort()));
    for (const port of picks) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralStart!);
    }
  });

  it('never hands out a port twice, even to concurrent callers, and each one can be listened on', async () => {
    const picks = await Promise.all(Array.from({ length: 300 }, () => freePort()));
    expect(new Set(picks).size).toBe(picks.length);
    const held = await Promise.all(picks.map((port) => listen(port)));
    await Promise.all(held.map((h) => new Promise((r) => h.server.close(r))));
  });
});

function listen(port: number): Promise<{ port: number; server: ReturnType<typeof createServer> }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ port, server }));
  });
}
