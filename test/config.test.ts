// Configuration is validated once at start-up; a bad or missing variable stops
// the service with a message that names it.

import { describe, expect, it } from 'vitest';
import { ConfigError } from '../base/config.ts';
import { loadIngesterConfig } from '../services/ingester/config.ts';
import { loadWriterConfig } from '../services/writer/config.ts';
import { loadApiConfig } from '../services/api/config.ts';
import { ServiceProcess } from '../base/service-process.ts';

function problems(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('configuration was accepted');
}

describe('configuration', () => {
  it('defaults make a working configuration for every service', () => {
    expect(loadIngesterConfig({}).JETSTREAM_URL.length).toBeGreaterThan(0);
    expect(loadWriterConfig({}).BATCH_MAX_EVENTS).toBe(20_000);
    expect(loadApiConfig({}).API_PORT).toBe(3000);
  });

  it('names every bad variable, with its value and the rule it breaks', () => {
    const message = problems(() =>
      loadIngesterConfig({ JETSTREAM_URL: 'http://example.com', BATCH_MAX_EVENTS: 'lots', REDIS_URL: 'postgres://x', LOG_LEVEL: 'loud' }),
    );
    expect(message).toContain('JETSTREAM_URL');
    expect(message).toContain('BATCH_MAX_EVENTS="lots"');
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('LOG_LEVEL');
  });

  it('checks relations between variables', () => {
    expect(problems(() => loadIngesterConfig({ BACKLOG_HIGH_WATER: '100', BACKLOG_LOW_WATER: '200' }))).toContain('BACKLOG_LOW_WATER');
    expect(problems(() => loadIngesterConfig({ CURSOR_REWIND_SECONDS: '60', DEDUP_WINDOW_SECONDS: '30' }))).toContain('DEDUP_WINDOW_SECONDS');
    expect(problems(() => loadApiConfig({ SEARCH_DEFAULT_LIMIT: '2000' }))).toContain('SEARCH_DEFAULT_LIMIT');
  });

  it('treats empty values as unset and parses lists', () => {
    const config = loadIngesterConfig({ BATCH_MAX_EVENTS: '', JETSTREAM_URL: ' ws://a/subscribe , wss://b/subscribe ,' });
    expect(config.BATCH_MAX_EVENTS).toBe(500);
    expect(config.JETSTREAM_URL).toEqual(['ws://a/subscribe', 'wss://b/subscribe']);
    expect(problems(() => loadWriterConfig({ WRITER_FAILPOINT: 'whenever' }))).toContain('WRITER_FAILPOINT');
  });

  it.each([
    ['ingester', 'services/ingester/main.ts', { READ_TIMEOUT_SECONDS: '-1' }, 'READ_TIMEOUT_SECONDS'],
    ['writer', 'services/writer/main.ts', { DUCKDB_MEMORY_LIMIT: 'a lot' }, 'DUCKDB_MEMORY_LIMIT'],
    ['api', 'services/api/main.ts', { API_PORT: '99999' }, 'API_PORT'],
  ])('the %s process exits non-zero and says which variable is wrong', async (name, script, env, variable) => {
    const service = new ServiceProcess({ name, script, env: { METRICS_PORT: '0', ...env } });
    const exit = await service.exited;
    expect(exit.code).toBe(1);
    expect(service.lines.join('\n')).toContain(variable);
  });
});
