/**
 * A minimal FastCGI client (the FastCGI 1.0 specification) for a responder, as a web server
 * talks to MapServer's `mapserv`: BEGIN_REQUEST, the CGI variables as PARAMS, an empty PARAMS, an empty STDIN,
 * then STDOUT (and STDERR) records until END_REQUEST; the CGI headers are taken off the answer.
 *
 * One connection runs one request at a time (no multiplexing), and is kept open between requests
 * (FCGI_KEEP_CONN): a libfcgi application serves that connection only, until it is closed, so a client
 * holds one process while connected. If the application closes it anyway, the next request connects again.
 */
import { connect, type NetConnectOpts, type Socket } from 'node:net';

const VERSION = 1;
const BEGIN_REQUEST = 1;
const END_REQUEST = 3;
const PARAMS = 4;
const STDIN = 5;
const STDOUT = 6;
const STDERR = 7;
const RESPONDER = 1;
const KEEP_CONN = 1;
/** One request at a time on a connection: any non-zero id will do. */
const REQUEST_ID = 1;
const MAX_CONTENT = 0xffff;

export interface CgiAnswer {
  /** the `Status:` header's code, 200 without one */
  status: number;
  /** header names in lower case */
  headers: Record<string, string>;
  body: Buffer;
  /** what the application wrote to FCGI_STDERR */
  stderr: string;
}

/** One record: an 8-byte header, the content, padding to a multiple of 8. */
function record(type: number, content: Buffer = Buffer.alloc(0)) {
  const padding = (8 - (content.length % 8)) % 8;
  const header = Buffer.from([VERSION, type, REQUEST_ID >> 8, REQUEST_ID & 0xff, content.length >> 8, content.length & 0xff, padding, 0]);
  return Buffer.concat([header, content, Buffer.alloc(padding)]);
}

/** A stream's records: the content in pieces of at most 65,535 bytes, then an empty record (its end). */
function stream(type: number, content: Buffer) {
  const records: Buffer[] = [];
  for (let at = 0; at < content.length; at += MAX_CONTENT) records.push(record(type, content.subarray(at, at + MAX_CONTENT)));
  return [...records, record(type)];
}

/** Name-value pairs: each length in 1 byte below 128, else in 4 with the top bit set. */
function nameValuePairs(params: Record<string, string>) {
  const length = (n: number) => {
    if (n < 0x80) return Buffer.from([n]);
    const b = Buffer.alloc(4);
    b.writeUInt32BE((n | 0x80000000) >>> 0);
    return b;
  };
  return Buffer.concat(
    Object.entries(params).flatMap(([name, value]) => {
      const [n, v] = [Buffer.from(name), Buffer.from(value)];
      return [length(n.length), length(v.length), n, v];
    }),
  );
}

/** A CGI answer: headers up to the first empty line, then the body. */
function parseCgi(output: Buffer, stderr: string): CgiAnswer {
  const end = output.indexOf('\r\n\r\n');
  const [head, bodyAt] = end >= 0 ? [output.subarray(0, end), end + 4] : [Buffer.alloc(0), 0];
  const headers: Record<string, string> = {};
  for (const line of head.toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = headers.status ? Number.parseInt(headers.status, 10) : 200;
  return { status, headers, body: output.subarray(bodyAt), stderr };
}

export class FastCgiConnection {
  private socket?: Socket;
  private received: Buffer = Buffer.alloc(0);
  private pending?: { stdout: Buffer[]; stderr: Buffer[]; resolve: (answer: CgiAnswer) => void; reject: (error: Error) => void };

  private readonly timeoutMs: number;
  private readonly signal?: AbortSignal;

  /**
   * `address`: where the application listens (`{ host, port }` or `{ path }` of a Unix socket); a request
   * fails after `timeoutMs`, or at once when `signal` aborts (the application is known to be gone).
   */
  constructor(
    private readonly address: NetConnectOpts,
    { timeoutMs = 60_000, signal }: { timeoutMs?: number; signal?: AbortSignal } = {},
  ) {
    this.timeoutMs = timeoutMs;
    this.signal = signal;
  }

  /** One request: `params` are the CGI variables (QUERY_STRING, REQUEST_METHOD, …); no body. */
  async request(params: Record<string, string>): Promise<CgiAnswer> {
    if (this.pending) throw new Error('one request at a time on a FastCGI connection');
    this.signal?.throwIfAborted();
    const socket = this.socket ?? (await this.open());
    const answer = new Promise<CgiAnswer>((resolve, reject) => {
      this.pending = { stdout: [], stderr: [], resolve, reject };
    });
    const begin = Buffer.from([RESPONDER >> 8, RESPONDER & 0xff, KEEP_CONN, 0, 0, 0, 0, 0]);
    socket.write(
      Buffer.concat([record(BEGIN_REQUEST, begin), ...stream(PARAMS, nameValuePairs(params)), ...stream(STDIN, Buffer.alloc(0))]),
    );
    const timer = setTimeout(() => this.fail(new Error(`no FastCGI answer in ${this.timeoutMs} ms`)), this.timeoutMs);
    const abort = () => this.fail(this.signal?.reason instanceof Error ? this.signal.reason : new Error('aborted'));
    this.signal?.addEventListener('abort', abort, { once: true });
    try {
      return await answer;
    } finally {
      clearTimeout(timer);
      this.signal?.removeEventListener('abort', abort);
    }
  }

  close() {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open() {
    return new Promise<Socket>((resolve, reject) => {
      const socket = connect(this.address);
      socket.once('connect', () => {
        socket.off('error', reject);
        // only the connection in use fails a request (one closed by close() has been replaced)
        socket.on('error', (error) => this.socket === socket && this.fail(error));
        socket.on('close', () => this.socket === socket && this.fail(new Error('the FastCGI application closed the connection')));
        socket.on('data', (data) => this.read(data));
        this.socket = socket;
        this.received = Buffer.alloc(0);
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }

  /** The connection is done with: the request under way, if any, fails. */
  private fail(error: Error) {
    this.close();
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  private read(data: Buffer) {
    this.received = this.received.length ? Buffer.concat([this.received, data]) : data;
    while (this.received.length >= 8) {
      const type = this.received[1];
      const length = this.received.readUInt16BE(4);
      const total = 8 + length + this.received[6];
      if (this.received.length < total) return;
      const content = this.received.subarray(8, 8 + length);
      this.received = this.received.subarray(total);
      const pending = this.pending;
      if (!pending) continue;
      if (type === STDOUT) pending.stdout.push(content);
      else if (type === STDERR) pending.stderr.push(content);
      else if (type === END_REQUEST) {
        this.pending = undefined;
        // content: appStatus (4 bytes), protocolStatus (1: 0 = request complete)
        if (content[4] !== 0) pending.reject(new Error(`FastCGI request not completed: protocol status ${content[4]}`));
        else pending.resolve(parseCgi(Buffer.concat(pending.stdout), Buffer.concat(pending.stderr).toString()));
      }
    }
  }
}
