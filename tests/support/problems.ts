import { toProblem } from '../../server/http/problem.ts';

/** A feature's refusal as the API would answer it (status, title, extensions), for tests that call the feature directly. */
export const answered = <T>(work: Promise<T>): Promise<T> =>
  work.catch((error: unknown) => {
    throw toProblem(error);
  });
