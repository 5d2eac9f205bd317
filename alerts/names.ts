// Every alert's name, declared once. The rules (alerts/*.ts), Alertmanager's
// inhibitions and the dashboards' runbook links name alerts by these constants, so
// a renamed or mistyped alert is a compile error, not a dead link. Names here are
// bare; the deployment's prefix (config.alertPrefix, "Bpe") is added by alertName().

import type { MixinConfig } from '../mixin/config.ts';

export const ALERT = {
  IngesterDown: 'IngesterDown',
  JetstreamDisconnected: 'JetstreamDisconnected',
  IngestionStalled: 'IngestionStalled',
  CursorLagHigh: 'CursorLagHigh',
  DeadLettersIncreasing: 'DeadLettersIncreasing',
  WriterDown: 'WriterDown',
  WriterBatchesFailing: 'WriterBatchesFailing',
  DataStale: 'DataStale',
  RedisDown: 'RedisDown',
  RedisMemoryNearLimit: 'RedisMemoryNearLimit',
  BufferBacklogGrowing: 'BufferBacklogGrowing',
  ApiDown: 'ApiDown',
  ApiErrorBudgetBurn: 'ApiErrorBudgetBurn',
  ApiLatencyBudgetBurn: 'ApiLatencyBudgetBurn',
  AuthFailureSpike: 'AuthFailureSpike',
  UnusualExportVolume: 'UnusualExportVolume',
  DiskFillingUp: 'DiskFillingUp',
  BackupMissing: 'BackupMissing',
  TlsCertificateExpiring: 'TlsCertificateExpiring',
  PublicEndpointDown: 'PublicEndpointDown',
  TargetDown: 'TargetDown',
} as const;

export type AlertName = (typeof ALERT)[keyof typeof ALERT];

/** An alert's full name in this deployment ("IngesterDown" -> "BpeIngesterDown"). */
export function alertName(config: Pick<MixinConfig, 'alertPrefix'>, name: AlertName): string {
  return `${config.alertPrefix}${name}`;
}
