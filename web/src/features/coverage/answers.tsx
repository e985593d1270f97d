import { useEffect, useState } from 'react';
import { apiFetch } from '../../api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';

/** Why a question got no answer: the server's status, or null when the server could not be reached. */
export interface Failure {
  status: number | null;
}

export interface Answer<T> {
  /** null while it loads, when it failed, or when there is nothing to ask */
  data: T | null;
  failure: Failure | null;
  loading: boolean;
  /** asks again, showing it loads meanwhile */
  retry: () => void;
}

/**
 * What a URL answers (nothing to ask while the URL is null). Asked again when `revision` changes (the
 * figures changed on the server): the last answer stays shown until the new one comes.
 */
export function useAnswer<T>(url: string | null, revision: number): Answer<T> {
  const [attempt, setAttempt] = useState(0);
  const [answer, setAnswer] = useState<{ asked: string; data: T | null; failure: Failure | null } | null>(null);
  const asked = `${url} ${attempt}`;
  useEffect(() => {
    if (!url) return;
    let current = true;
    apiFetch(url)
      .then(async (response) =>
        response.ok
          ? { asked, data: (await response.json()) as T, failure: null }
          : { asked, data: null, failure: { status: response.status } },
      )
      .catch(() => ({ asked, data: null, failure: { status: null } }))
      .then((next) => current && setAnswer(next));
    return () => void (current = false);
  }, [url, asked, revision]);
  // an answer to an earlier question (another URL, or before a retry) is no answer to this one
  const own = answer?.asked === asked ? answer : null;
  return {
    data: own?.data ?? null,
    failure: own?.failure ?? null,
    loading: url !== null && own === null,
    retry: () => setAttempt((a) => a + 1),
  };
}

/** A failed question in the reader's language, after what it was about (`what`, which ends in a colon), and a retry. */
export function LoadFailure({ what, answer }: { what: MessageKey; answer: Answer<unknown> }) {
  const { t } = useI18n();
  const { failure } = answer;
  if (!failure) return null;
  const why =
    failure.status === null
      ? t('coverage.failure.network')
      : failure.status === 403
        ? t('coverage.failure.forbidden')
        : `${t('coverage.failure.status')} ${failure.status}`;
  return (
    <p className="error" role="alert">
      {t(what)}
      {why}{' '}
      <button type="button" onClick={answer.retry}>
        {t('coverage.retry')}
      </button>
    </p>
  );
}
