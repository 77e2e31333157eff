// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

// Layering (DESIGN.md): each SDK is imported by one folder only.
const owners = [
  { dir: 'src/engines', patterns: ['zeromq'], message: 'only src/engines imports zeromq' },
  { dir: 'src/cloud/ec2', patterns: ['@aws-sdk/*', '@smithy/*'], message: 'only src/cloud/ec2 imports the AWS SDK' },
  { dir: 'src/remote', patterns: ['ssh2'], message: 'only src/remote imports ssh2' },
];
const restrictionsOutside = (dir) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: owners.filter((o) => o.dir !== dir).map((o) => ({ group: o.patterns, message: o.message })),
    },
  ],
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'localstack/.venv/**',
      'localstack/.state/**',
      'bench/python/**',
      'coverage/**',
      'out/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  { files: ['src/**'], rules: restrictionsOutside('') },
  ...owners.map((o) => ({ files: [`${o.dir}/**`], rules: restrictionsOutside(o.dir) })),
  {
    // The library never prints; the CLI layer, process entry points, scripts, benchmarks and tests may.
    files: ['src/cli/**', 'src/**/main.ts', 'bench/**', 'test/**', 'localstack/**', 'bin/**'],
    rules: { 'no-console': 'off' },
  },
  prettier,
);
