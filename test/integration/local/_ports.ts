import { createServer } from 'node:net';

/** Two free TCP ports on 127.0.0.1 (bound and released; fine for tests on one machine). */
export async function freePortPair(): Promise<[number, number]> {
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(port));
      });
    });
  const a = await one();
  let b = await one();
  while (b === a) b = await one();
  return [a, b];
}
