import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Setup file of the `integration` project: makes sure LocalStack runs (localstack/start.sh,
 * idempotent: it installs on first use and just prints the endpoint when it already runs) and
 * points the AWS SDK and boto3 at it with fake credentials and a region.
 */
const ROOT = join(import.meta.dirname, '..', '..');
if (!process.env.AWS_ENDPOINT_URL?.startsWith('http://127.0.0.1:')) {
  const stdout = execFileSync(join(ROOT, 'localstack', 'start.sh'), [], {
    encoding: 'utf8',
    timeout: 1_200_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const endpoint = stdout.trim().split('\n').pop() ?? '';
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(endpoint))
    throw new Error(`localstack/start.sh did not print an endpoint: ${stdout}`);
  process.env.AWS_ENDPOINT_URL = endpoint;
}
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_DEFAULT_REGION ??= process.env.AWS_REGION;
