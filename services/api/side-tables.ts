// Small in-memory tables the queries join against, kept in step with the store:
//   post_tombstones(h, time_us): hash of (author, rkey) of every deleted post, with the
//     delete's time (a post can only be deleted after it was created, so a query
//     only needs the tombstones newer than its window's start);
//   handles(did, handle, time_us): every identity event, and current_handles(did,
//     handle), the latest handle of each DID, rebuilt when handles change.
// Each refresh reloads only the hour partitions whose file set changed (a new
// batch file, or compaction replacing them), so it stays cheap as the store grows.
// Hashing keeps the tombstones 8 bytes each; a false match would need a 64-bit
// collision.

import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString, sqlStringList } from '../shared/duckdb.ts';
import { COLLECTIONS } from '../shared/jetstream.ts';
import { partitionKey } from '../shared/layout.ts';
import type { Logger } from '../shared/logger.ts';
import type { TableName } from '../shared/tables.ts';
import type { StoreIndex } from './store-index.ts';

interface SideTableSpec {
  name: string;
  source: TableName;
  /** Column definitions, without the trailing partition column. */
  columns: string;
  /** SELECT list over the source files (aliased `f`). */
  select: string;
  where?: string;
}

const SPECS: readonly SideTableSpec[] = [
  {
    name: 'post_tombstones',
    source: 'deletes',
    columns: 'h UBIGINT, time_us BIGINT',
    select: 'hash(author_did, rkey), time_us',
    where: `collection = ${sqlString(COLLECTIONS.post)}`,
  },
  { name: 'handles', source: 'identities', columns: 'did VARCHAR, handle VARCHAR, time_us BIGINT', select: 'did, handle, time_us' },
];

export class SideTables {
  /** partition key -> joined file list loaded, per side table */
  private readonly loaded = new Map<string, Map<string, string>>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  lastRefreshAt = 0;

  constructor(
    private readonly connection: DuckDBConnection,
    private readonly store: StoreIndex,
    private readonly logger: Logger,
  ) {}

  async init(refreshMs: number): Promise<void> {
    for (const spec of SPECS) {
      await this.connection.run(`CREATE OR REPLACE TABLE ${spec.name} (${spec.columns}, part VARCHAR)`);
      this.loaded.set(spec.name, new Map());
    }
    await this.connection.run('CREATE OR REPLACE TABLE current_handles (did VARCHAR, handle VARCHAR)');
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.logger.warn({ err: error }, 'side table refresh failed'));
    }, refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Brings every side table up to date with the store; concurrent calls share one run. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    for (const spec of SPECS) {
      const changed = await this.refreshTable(spec);
      if (changed && spec.name === 'handles') {
        await this.connection.run(
          `CREATE OR REPLACE TABLE current_handles AS
             SELECT did, arg_max(handle, time_us) AS handle FROM handles WHERE handle IS NOT NULL GROUP BY did`,
        );
      }
    }
    this.lastRefreshAt = Date.now();
  }

  private async refreshTable(spec: SideTableSpec): Promise<boolean> {
    const loaded = this.loaded.get(spec.name)!;
    const hours = await this.store.allHours(spec.source);
    const present = new Set<string>();
    let changed = false;
    for (const hour of hours) {
      const key = partitionKey(hour.partition);
      present.add(key);
      const signature = hour.files.join('\n');
      if (loaded.get(key) === signature) continue;
      await this.connection.run('BEGIN TRANSACTION');
      try {
        await this.connection.run(`DELETE FROM ${spec.name} WHERE part = ${sqlString(key)}`);
        await this.connection.run(
          `INSERT INTO ${spec.name} SELECT ${spec.select}, ${sqlString(key)}
             FROM read_parquet(${sqlStringList(hour.files)}, hive_partitioning = false, union_by_name = true) f
             ${spec.where ? `WHERE ${spec.where}` : ''}`,
        );
        await this.connection.run('COMMIT');
      } catch (error) {
        await this.connection.run('ROLLBACK');
        // A file replaced by compaction between listing and reading: the next refresh retries.
        if (/No such file|No files found|cannot open/i.test((error as Error).message)) continue;
        throw error;
      }
      loaded.set(key, signature);
      changed = true;
    }
    for (const key of loaded.keys()) {
      if (!present.has(key)) {
        await this.connection.run(`DELETE FROM ${spec.name} WHERE part = ${sqlString(key)}`);
        loaded.delete(key);
        changed = true;
      }
    }
    return changed;
  }
}
