// Where the repository is, for the tools and tests that read or write its files
// (rendered rules and dashboards, runbooks, fixtures) and spawn its commands.

import { fileURLToPath } from 'node:url';

/** The repository's root directory, with a trailing slash. */
export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
