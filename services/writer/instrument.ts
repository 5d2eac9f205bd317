// Imported first by main.ts: telemetry is running before any other module of the
// service is evaluated (ES modules evaluate imports in order, and this one waits).

import { instrument } from '../../telemetry/instrument.ts';

export const telemetry = await instrument('writer');
