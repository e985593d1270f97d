/**
 * wrk (Debian's `wrk`, a load generator in C) as the HTTP client beside pgbench: on two cores a client in
 * JavaScript takes a share of the processor from the server it measures, where pgbench's own client takes
 * little. Found, or installed when running as root; without it the benchmarks report their Node client alone.
 * The paths are drawn at random (seeded per connection) by a Lua script; the figures are wrk's own.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HttpResult } from './load.ts';

const WRK = '/usr/bin/wrk';

/** wrk, installed if need be and possible; why not otherwise. */
export function findWrk(): { found: true } | { missing: string } {
  if (existsSync(WRK)) return { found: true };
  if (process.getuid?.() !== 0) return { missing: `${WRK} is not installed, and installing wrk takes root` };
  console.log(`${WRK} is not installed: apt-get install wrk…`);
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (error) {
    return { missing: `apt-get install wrk failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)})` };
  }
  return existsSync(WRK) ? { found: true } : { missing: `wrk was installed but there is no ${WRK}` };
}

const script = (pathsFile: string, token: string, seed: number) => `
local paths = {}
for line in io.lines("${pathsFile}") do paths[#paths + 1] = line end
local headers = { Authorization = "Bearer ${token}" }
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  math.randomseed(${seed} * 1000 + tonumber(wrk.thread:get("id")))
end
function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("GRIDMAP %d %d %d %d %.1f %.1f %.1f\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
`;

/** `clients` keep-alive connections on min(clients, 2) threads (as pgbench's -j), over `paths` at random. */
export class WrkLoad {
  private folder = mkdtempSync(join(tmpdir(), 'gridmap-wrk-'));

  constructor(
    private base: string,
    private token: string,
    paths: string[],
  ) {
    writeFileSync(join(this.folder, 'paths'), paths.join('\n') + '\n');
  }

  private async once(clients: number, seconds: number, seed: number): Promise<HttpResult> {
    const lua = join(this.folder, `run-${seed}.lua`);
    writeFileSync(lua, script(join(this.folder, 'paths'), this.token, seed));
    const threads = String(Math.min(clients, 2));
    // not a synchronous child: the server answering it runs on this process's event loop
    const { stdout: out } = await promisify(execFile)(WRK, [
      '-t',
      threads,
      '-c',
      String(clients),
      '-d',
      `${seconds}s`,
      '--timeout',
      '10s',
      '-s',
      lua,
      this.base,
    ]);
    const line = /^GRIDMAP (.*)$/m.exec(out);
    if (!line) throw new Error(`wrk said nothing of its run:\n${out}`);
    const [requests, durationUs, status, broken, p50, p95, p99] = line[1].split(' ').map(Number);
    return {
      perSecond: requests / (durationUs / 1e6),
      p50: p50 / 1000,
      p95: p95 / 1000,
      p99: p99 / 1000,
      failures: status + broken,
      firstFailure: status + broken ? `${status} answers not 2xx or 3xx, ${broken} broken connections or timeouts` : undefined,
      fewer: 0,
    };
  }

  /** A warm-up of `warmup` seconds, then the measured run. */
  async run(clients: number, seconds: number, seed: number, warmup: number): Promise<HttpResult> {
    await this.once(clients, warmup, seed + 500);
    return this.once(clients, seconds, seed);
  }

  close() {
    rmSync(this.folder, { recursive: true, force: true });
  }
}
