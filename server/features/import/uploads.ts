import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Uploads wait in the temp folder in directories named for the process that owns them. */
const PREFIX = 'gridmap-import-';

/** A new directory for one upload, removed by its caller on every path (and by the next start after a crash). */
export const uploadDir = () => mkdtemp(join(tmpdir(), `${PREFIX}${process.pid}-`));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes the uploads of processes that are gone (a crash or kill -9 skips their own clean-up); answers how many. */
export async function removeStaleUploads(): Promise<number> {
  const stale = (await readdir(tmpdir())).filter((name) => {
    // only this version's folders (named for their process): another program's are not ours to remove
    const pid = Number(/^gridmap-import-(\d+)-/.exec(name)?.[1] ?? NaN);
    return Number.isInteger(pid) && pid !== process.pid && !alive(pid);
  });
  await Promise.all(stale.map((name) => rm(join(tmpdir(), name), { recursive: true, force: true })));
  return stale.length;
}
