// A TCP proxy in front of Redis that loses one reply: when a reply from Redis matches,
// both sockets are destroyed instead of passing it on. The command was executed (and
// logged to the AOF) but the client never learns its result, which is what happens
// when Redis goes away, or the network fails, between serving a command and the reply
// reaching the client. With it, the rare timing of a crash is a deterministic fault.

import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ReplyCutter {
  url: string;
  /** Replies lost so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

/**
 * @param target the Redis to forward to (host and port)
 * @param shouldCut sees each reply chunk with the last request chunk of the same
 *   connection; the first chunk it accepts is lost, with the connection. Later ones pass.
 */
export async function startReplyCutter(target: { host: string; port: number }, shouldCut: (reply: string, request: string) => boolean): Promise<ReplyCutter> {
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target);
    sockets.add(client).add(upstream);
    let lastRequest = '';
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      lastRequest = chunk.toString('latin1');
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cuts === 0 && shouldCut(chunk.toString('latin1'), lastRequest)) {
        cuts += 1;
        closeBoth();
        return;
      }
      client.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on('error', closeBoth);
      socket.on('close', () => {
        sockets.delete(socket);
        closeBoth();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    get cuts() {
      return cuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
