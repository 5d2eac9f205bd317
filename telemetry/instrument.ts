// What each service's instrument.ts calls first: start telemetry, or exit with a
// message naming the bad variable. Kept apart from start.ts so a test can start
// telemetry without exiting the process on failure.

import { startTelemetry, type Telemetry, type TelemetryService } from './start.ts';

export async function instrument(service: TelemetryService): Promise<Telemetry> {
  try {
    return await startTelemetry(service);
  } catch (error) {
    console.error(`${service}: cannot start telemetry: ${(error as Error).message}`);
    process.exit(1);
  }
}
