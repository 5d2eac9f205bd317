// Secrets: copied from the operator's local secret files to <app>/secrets, mode 0600
// in a 0700 directory, only when they differ. Their content goes over stdin and is
// compared on the host (cmp), so neither the secret nor a hash of it appears in a
// command line or the plan.

import type { Ensure } from '../command.ts';
import { posix } from 'node:path';
import type { RemoteLayout } from '../layout.ts';
import { ensureDirectory, ensureFile } from './files.ts';

export interface LocalSecret {
  /** File name, also the name on the host. */
  name: string;
  localPath: string;
}

/**
 * Secrets the stack cannot start without (deploy/compose.yaml and the backup unit
 * read them): a deploy with --secrets-dir refuses to start when one is missing.
 */
export const REQUIRED_SECRETS = [
  'redis.acl',
  // The pipeline services' Redis passwords (npm run redis:acl writes them with redis.acl).
  'redis-ingester.password',
  'redis-writer.password',
  'redis-api.password',
  'grafana_admin_password',
  'ingester.env',
  'writer.env',
  'api.env',
  'redis-exporter.env',
  'backup.env',
] as const;

export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function ensureSecretsDirectory(layout: RemoteLayout): Ensure {
  return ensureDirectory(layout.secrets, { mode: '700', name: 'secrets directory (0700)' });
}

export function ensureSecret(layout: RemoteLayout, secret: LocalSecret): Ensure {
  return ensureFile(posix.join(layout.secrets, secret.name), { localFile: secret.localPath }, { mode: '600', secret: true, name: `secret ${secret.name}` });
}
