// The release's version (package.json), on every log line and in every metric's
// resource attributes.

import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
export const SERVICE_VERSION = packageJson.version;
