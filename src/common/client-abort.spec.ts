import { createServer, request, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { toErrorBody } from './all-exceptions.filter';
import { clientAbortSignal, ClientGoneError } from './client-abort';

describe('clientAbortSignal', () => {
  let server: Server;
  let port: number;
  let onRequest: (response: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((_req, response) => onRequest(response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('stays quiet for a request that is answered', async () => {
    let signal: AbortSignal | undefined;
    const closed = new Promise<void>((resolve) => {
      onRequest = (response) => {
        signal = clientAbortSignal(response);
        response.on('close', () => setImmediate(resolve));
        response.end('ok');
      };
    });
    await new Promise<void>((resolve, reject) =>
      request({ port, host: '127.0.0.1' }, (res) => res.resume().on('end', resolve))
        .on('error', reject)
        .end(),
    );
    await closed;
    expect(signal?.aborted).toBe(false);
  });

  it('aborts when the client closes the connection before the answer', async () => {
    const aborted = new Promise<unknown>((resolve) => {
      onRequest = (response) => {
        const signal = clientAbortSignal(response);
        signal.addEventListener('abort', () => resolve(signal.reason));
        // The client goes away while the answer is still being worked out.
        client.destroy();
      };
    });
    const client = request({ port, host: '127.0.0.1' }).on('error', () => undefined);
    client.end();
    await expect(aborted).resolves.toBeInstanceOf(ClientGoneError);
  });

  it('is a client error (499, not logged as a server fault) when it reaches the exception filter', () => {
    expect(toErrorBody(new ClientGoneError())).toMatchObject({
      statusCode: 499,
      message: 'the client closed the connection',
    });
  });
});
