// Installs the backup timer on the host (part of host setup, after the release is on
// the host, since the service runs the release's backup.sh). The unit files in this
// directory are written for the default paths; a deploy with another app directory,
// data root or textfile directory gets them with its own paths.

import { and, change, read, rootCommand, type Ensure } from '../ssh/command.ts';
import { ensureFile } from '../ssh/commands/files.ts';

export const BACKUP_UNITS = ['bpe-backup.service', 'bpe-backup.timer'] as const;
export const UNIT_DEFAULT_APP_DIR = '/opt/bluesky-post-explorer';
export const UNIT_DEFAULT_DATA_ROOT = '/srv/bluesky-post-explorer-data';
export const UNIT_DEFAULT_TEXTFILE_DIR = '/var/lib/node-exporter/textfile';

export function renderUnit(template: string, paths: { appDir: string; dataRoot: string; textfileDir?: string | undefined }): string {
  return template
    .replaceAll(UNIT_DEFAULT_APP_DIR, paths.appDir)
    .replaceAll(UNIT_DEFAULT_DATA_ROOT, paths.dataRoot)
    .replaceAll(UNIT_DEFAULT_TEXTFILE_DIR, paths.textfileDir ?? UNIT_DEFAULT_TEXTFILE_DIR);
}

export interface BackupTimerOptions {
  sudo: boolean;
  appDir: string;
  dataRoot: string;
  /** node-exporter's textfile collector directory (the deploy's --textfile-dir). */
  textfileDir?: string | undefined;
  /** Unit file name -> content as committed (deploy/backup/<name>). */
  templates: Readonly<Record<(typeof BACKUP_UNITS)[number], string>>;
}

export function backupTimerSteps(options: BackupTimerOptions): Ensure[] {
  const { sudo } = options;
  const reload = rootCommand(change('reload systemd units', ['systemctl', 'daemon-reload']), sudo);
  return [
    ...BACKUP_UNITS.map((unit) =>
      ensureFile(`/etc/systemd/system/${unit}`, renderUnit(options.templates[unit], options), { mode: '644', sudo, name: `backup unit ${unit}`, afterChange: [reload] }),
    ),
    {
      name: 'daily backup timer enabled',
      check: read('is the backup timer enabled and active', and(['systemctl', 'is-enabled', '--quiet', 'bpe-backup.timer'], ['systemctl', 'is-active', '--quiet', 'bpe-backup.timer'])),
      apply: [rootCommand(change('enable and start the backup timer', ['systemctl', 'enable', '--now', 'bpe-backup.timer']), sudo)],
    },
  ];
}
