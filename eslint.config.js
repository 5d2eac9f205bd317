// Lint: typescript-eslint's recommended type-aware rules, plus the few that catch
// real bugs in async service code (floating promises, misused promises), and the
// layers of ARCHITECTURE.md: an import that points up a layer is an error.
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const EVERYTHING_ABOVE_SERVICES = ['./mixin', './alerts', './dashboards', './runbooks', './deploy', './loadtest', './tools', './test'];
const SERVICES = ['./services/ingester', './services/writer', './services/api'];

/**
 * The layers (ARCHITECTURE.md, "Layers"), as what each part must not import. Bottom
 * first: base/ imports nothing of ours; telemetry/ only base/; the pipeline's shared
 * code no service; a service no other service; the monitoring mixin (mixin/ under
 * alerts/ under dashboards/, and runbooks/) no service; tools/ is imported by nothing
 * but the tests.
 */
const forbidden = [
  { target: './base', from: ['./telemetry', './services', ...EVERYTHING_ABOVE_SERVICES], message: 'base/ is the bottom layer: it imports nothing of ours.' },
  { target: './telemetry', from: ['./services', ...EVERYTHING_ABOVE_SERVICES], message: 'telemetry/ sits under the services: it may import base/ only.' },
  { target: './services/shared', from: [...SERVICES, ...EVERYTHING_ABOVE_SERVICES], message: 'services/shared/ sits under the services: it may import base/ and telemetry/ only.' },
  ...SERVICES.map((service) => ({
    target: service,
    from: [...SERVICES.filter((other) => other !== service), ...EVERYTHING_ABOVE_SERVICES],
    message: 'A service imports services/shared/, telemetry/ and base/, never another service (they share code through services/shared/) nor anything above.',
  })),
  { target: './mixin', from: ['./services', './alerts', './dashboards', './runbooks', './deploy', './loadtest', './tools', './test'], message: 'mixin/ is the bottom of the monitoring mixin: it may import base/ and telemetry/ (the metric catalog) only.' },
  { target: './alerts', from: ['./services', './dashboards', './runbooks', './deploy', './loadtest', './tools', './test'], message: 'alerts/ may import mixin/, telemetry/ and base/ only (dashboards/ import alerts/, not the other way round).' },
  { target: './dashboards', from: ['./services', './runbooks', './deploy', './loadtest', './tools', './test'], message: 'dashboards/ may import alerts/, mixin/, telemetry/ and base/ only.' },
  { target: './runbooks', from: ['./services', './dashboards', './deploy', './loadtest', './tools', './test'], message: 'runbooks/ may import alerts/, mixin/ and base/ only.' },
  { target: './deploy', from: [...SERVICES, './mixin', './alerts', './dashboards', './runbooks', './loadtest', './tools', './test'], message: 'deploy/ may import services/shared/, telemetry/ and base/ only.' },
  { target: './loadtest', from: ['./tools', './test'], message: 'Nothing but the tests imports tools/ or test/.' },
];

/** The layer rule alone, also used by test/layers.test.ts to show it refusing an upward import. */
export const layers = {
  plugins: { 'import-x': importX },
  rules: { 'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: forbidden }] },
};

export default tseslint.config(
  { ignores: ['node_modules/', '**/dist/', 'build/', '.data/', 'loadtest/reports/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Fastify plugins and handlers are async by contract, awaiting or not.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
    },
  },
  {
    // Tests read raw JSON events to compute expected answers independently of the
    // code under test; typing every probe of an arbitrary record adds nothing there.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  { files: ['**/*.ts', '**/*.mjs', '**/*.js'], ...layers },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.mjs'], languageOptions: { globals: { URL: 'readonly', BroadcastChannel: 'readonly', globalThis: 'readonly' } } },
);
