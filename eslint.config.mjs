// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** Infrastructure packages only adapters (and the composition root) may import. */
const INFRA = ['typeorm', 'better-sqlite3', 'dockerode', 'pg', 'docker-modem'];
const infraPatterns = INFRA.flatMap((p) => [p, `${p}/*`]);

export default tseslint.config(
  {
    ignores: [
      'test/summary-reporter.js',
      'dist/**',
      'coverage/**',
      'node_modules/**',
      'bench/**',
      'test-artifacts/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-function-type': 'off',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // The dashboard's page scripts run in browsers, as ES modules (no build step).
    files: ['src/modules/dashboard/assets/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'fetch',
          'EventSource',
          'URLSearchParams',
          'Node',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
  {
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // Hexagon boundary: domain, ports and modules never reach adapters or infrastructure packages.
    files: ['src/domain/**/*.ts', 'src/ports/**/*.ts', 'src/modules/**/*.ts', 'src/config/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/adapters', '**/adapters/**'],
              message: 'modules and ports depend on ports, never adapters',
            },
            {
              group: infraPatterns,
              message: 'infrastructure packages belong in src/adapters',
              allowTypeImports: false,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/domain/**/*.ts', 'src/ports/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/adapters', '**/adapters/**', '**/modules/**'],
              message: 'domain and ports stand alone',
            },
            {
              group: [...infraPatterns, '@nestjs/*'],
              message: 'domain and ports are framework-free',
            },
          ],
        },
      ],
    },
  },
);
