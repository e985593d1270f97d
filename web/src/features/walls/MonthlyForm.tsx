import { useState, type FormEvent } from 'react';
import type { ApiAnswer } from '../../../../server/http/api.ts';
import { sendJson } from '../../api.ts';
import { useI18n } from '../../i18n.tsx';

export type MonthlyMatter = ApiAnswer<'GET /api/v1/communities/:id/monthly'>['matters'][number];

const thisMonth = () => new Date().toISOString().slice(0, 7);

interface Draft {
  title: string;
  discussion: string;
  outcome: string;
  published: boolean;
}
const draftOf = (m: MonthlyMatter | undefined): Draft => ({
  title: m?.title ?? '',
  discussion: m?.discussion ?? '',
  outcome: m?.outcome ?? '',
  published: m?.published_at != null,
});

/**
 * One matter a month, kept by the community's staff: the month's matter, how it was discussed and what came
 * of it, saved as a draft or published on the echo wall. Choosing a month recorded before fills the form;
 * what the staff are typing is never overwritten by a reload of the recorded matters.
 */
export function MonthlyForm({ community, matters, onSaved }: { community: number; matters: MonthlyMatter[]; onSaved: () => void }) {
  const { t } = useI18n();
  const [month, setMonth] = useState(thisMonth);
  // what the staff typed for the month chosen (null: nothing yet, and the form shows the month's matter as recorded)
  const [typed, setTyped] = useState<Draft | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const recorded = matters.find((m) => m.month === month);
  const draft = typed ?? draftOf(recorded);

  const edit = (change: Partial<Draft>) => {
    setTyped((d) => ({ ...(d ?? draftOf(recorded)), ...change }));
    setSaved(false);
  };
  const chooseMonth = (value: string) => {
    setMonth(value || thisMonth());
    setTyped(null);
    setSaved(false);
  };

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const text = (value: string) => value.trim() || null;
    try {
      await sendJson('PUT', `/api/v1/communities/${community}/monthly/${month}`, {
        title: draft.title.trim(),
        discussion: text(draft.discussion),
        outcome: text(draft.outcome),
        published: draft.published,
      });
      setError(null);
      setSaved(true); // the draft stays as it is: it is what was saved
      onSaved();
    } catch (e) {
      setError((e as Error).message);
    }
  }

  return (
    <form className="monthly-form" onSubmit={submit} aria-label={t('monthly.keep')}>
      <h3>{t('monthly.keep')}</h3>
      <label>
        {t('monthly.month')}
        <input type="month" name="month" value={month} required onChange={(e) => chooseMonth(e.target.value)} />
      </label>
      <label>
        {t('monthly.matter')}
        <input name="title" maxLength={200} required value={draft.title} onChange={(e) => edit({ title: e.target.value })} />
      </label>
      <label>
        {t('monthly.discussion')}
        <textarea
          name="discussion"
          rows={3}
          maxLength={10000}
          value={draft.discussion}
          onChange={(e) => edit({ discussion: e.target.value })}
        />
      </label>
      <label>
        {t('monthly.outcome')}
        <textarea name="outcome" rows={3} maxLength={10000} value={draft.outcome} onChange={(e) => edit({ outcome: e.target.value })} />
      </label>
      <label className="check">
        <input type="checkbox" name="published" checked={draft.published} onChange={(e) => edit({ published: e.target.checked })} />
        {t('monthly.publish')}
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-buttons">
        <button type="submit" className="primary">
          {t('monthly.save')}
        </button>
        {saved && <span role="status">{t('monthly.saved')}</span>}
      </div>
    </form>
  );
}
