// The pino transport that ships logs to Loki. It runs in pino's worker thread,
// which loads it as plain JavaScript (no TypeScript loader there), hence .mjs.
//
// It is pino-loki, plus a count of the records Loki did not take: pino-loki drops
// a batch whose push fails (no retry), so every failed push is reported to the
// service's main thread over a BroadcastChannel (named in the options), where it
// becomes the bpe.logs.dropped metric. A Loki outage never blocks or slows the
// service: its logs still reach stdout, and the loss is measured.

import { pinoLoki } from 'pino-loki';

/** @param {import('pino-loki').LokiOptions & { droppedChannel: string }} options */
export default function lokiTransport({ droppedChannel, ...options }) {
  const channel = new BroadcastChannel(droppedChannel);
  channel.unref();
  const target = new URL(options.endpoint ?? 'loki/api/v1/push', options.host).toString();
  const originalFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    if (url !== target) return originalFetch(input, init);
    const records = countRecords(init?.body);
    try {
      const response = await originalFetch(input, init);
      if (!response.ok) channel.postMessage(records);
      return response;
    } catch (error) {
      channel.postMessage(records);
      throw error;
    }
  };
  return pinoLoki({ ...options, silenceErrors: true });
}

/** Log lines in a Loki push body: {streams: [{stream, values: [[ts, line], ...]}]}. */
function countRecords(body) {
  if (typeof body !== 'string') return 1;
  try {
    const parsed = JSON.parse(body);
    return (parsed.streams ?? []).reduce((sum, stream) => sum + (stream.values?.length ?? 0), 0);
  } catch {
    return 1;
  }
}
