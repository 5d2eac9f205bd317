// Deploys into the audit trail. `npm run deploy` appends one JSON line per deploy to
// /opt/<app>/deploys.log on the host (deploy/ssh/commands/audit.ts) and holds no
// Redis credentials; the API, which can read that file, appends each new line as a
// `deploy` entry, once (the line's sha256 is its dedupe id, checked in the same
// script that appends), however many API processes read it and however often.

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { AuditLog } from './log.ts';

/** Appends the new lines of deploys.log to the chain as `deploy` entries, each once. */
export class DeployImporter {
  private importedBytes = 0;

  constructor(
    private readonly log: AuditLog,
    private readonly file: string,
  ) {}

  async sync(): Promise<number> {
    const info = await stat(this.file).catch(() => undefined);
    if (!info || info.size === this.importedBytes) return 0;
    if (info.size < this.importedBytes) this.importedBytes = 0; // replaced: the dedupe ids skip what is known
    const text = await readFile(this.file, 'utf8');
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    let imported = 0;
    for (const line of complete.split('\n')) {
      if (line.trim() === '') continue;
      const lineHash = createHash('sha256').update(line).digest('hex');
      let record: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(line);
        record = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { raw: line };
      } catch {
        record = { raw: line };
      }
      const entry = await this.log.append(
        {
          action: 'deploy',
          actor: { type: 'deployer', ...(typeof record.who === 'string' ? { name: record.who } : {}) },
          source: 'deploy-import',
          details: { ...record, deploys_log_line_sha256: lineHash },
        },
        `deploy:${lineHash}`,
      );
      if (entry) imported += 1;
    }
    this.importedBytes = Buffer.byteLength(complete);
    return imported;
  }
}
