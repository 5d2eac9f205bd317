// The API's side of the audit trail (services/shared/audit/): it records
// authentication failures, exports and admin actions without ever delaying a
// response, and keeps the daily files and Loki up to date with the stream (its
// own entries and those of the keys CLI), importing deploys from deploys.log.

import type { Logger } from '../shared/logger.ts';
import type { AuditRecord } from '../shared/audit/chain.ts';
import type { AuditLog } from '../shared/audit/log.ts';
import type { AuditMirror } from '../shared/audit/mirror.ts';
import type { DeployImporter } from '../shared/audit/deploy-import.ts';

export class ApiAudit {
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly log: AuditLog,
    private readonly logger: Logger,
    private readonly mirror?: AuditMirror,
    private readonly deploys?: DeployImporter,
  ) {}

  /** Appends in the background; a failure is logged with the record (which holds no secret), never thrown. */
  record(record: Omit<AuditRecord, 'source'>): void {
    this.log.append({ ...record, source: 'api' }).then(
      () => this.nudge(),
      (error: unknown) => this.logger.error({ err: (error as Error).message, audit: record }, 'audit entry could not be appended'),
    );
  }

  /** Mirrors to files and Loki, and imports deploys, every intervalMs (and soon after each append). */
  start(intervalMs: number): void {
    if (!this.mirror && !this.deploys) return;
    this.timer = setInterval(() => this.nudge(), intervalMs);
    this.timer.unref();
    this.nudge();
  }

  /** One pass now (tests and shutdown); concurrent calls share it. */
  sync(): Promise<void> {
    this.syncing ??= (async () => {
      try {
        await this.deploys?.sync();
        await this.mirror?.sync();
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'audit mirror pass failed; retrying on the next one');
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  private nudge(): void {
    if (!this.stopped && (this.mirror || this.deploys)) void this.sync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.syncing;
  }
}
