// Types of eslint.config.js, for test/layers.test.ts.
import type { Linter } from 'eslint';

declare const config: Linter.Config[];
export default config;
/** The layer rule alone (import-x/no-restricted-paths with the layers of ARCHITECTURE.md). */
export declare const layers: Linter.Config;
