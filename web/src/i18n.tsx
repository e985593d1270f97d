// The interface's texts, in Simplified Chinese and English. Each feature keeps its own texts next to its code, in
// web/src/features/<feature>/messages.ts; the texts of the app's frame and those several features use (app.*, nav.*,
// layer.*, prop.*, role.*, issueStatus.*, …) are in web/src/messages.ts. Keys keep their prefixes ('import.title'),
// so `t` is called the same wherever a text lives. This file composes the files into `messages` and `MessageKey`.
//
// To add a text, add its key to both `zh` and `en` of the file of the one feature that shows it (to web/src/messages.ts
// if several do). To give a new feature texts, copy the shape of an existing messages.ts (`en` typed as
// Record<keyof typeof zh, string>) and add its export to `parts` below. `tsc` fails on a key missing from either
// language, a key defined in two files, and a `t('…')` of a key no file defines.

import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { accountsMessages } from './features/accounts/messages.ts';
import { authMessages } from './features/auth/messages.ts';
import { coverageMessages } from './features/coverage/messages.ts';
import { dispatchMessages } from './features/dispatch/messages.ts';
import { importMessages } from './features/import/messages.ts';
import { mapMessages } from './features/map/messages.ts';
import { ogcMessages } from './features/ogc/messages.ts';
import { organisationMessages } from './features/organisation/messages.ts';
import { planningMessages } from './features/planning/messages.ts';
import { setupMessages } from './features/setup/messages.ts';
import { wallsMessages } from './features/walls/messages.ts';
import { sharedMessages } from './messages.ts';

/** The interface speaks Simplified Chinese by default (its users are community staff); English on request. */
export type Lang = 'zh-CN' | 'en';

/** Every file of texts; a key lives in exactly one of them. */
const parts = [
  sharedMessages,
  accountsMessages,
  authMessages,
  coverageMessages,
  dispatchMessages,
  importMessages,
  mapMessages,
  ogcMessages,
  organisationMessages,
  planningMessages,
  setupMessages,
  wallsMessages,
] as const;
type Part = (typeof parts)[number];

type KeysOf<P> = P extends { 'zh-CN': infer Texts } ? keyof Texts : never;
/** Any key of any file: `t` takes only these. */
export type MessageKey = KeysOf<Part>;

/** The keys that two files both define (the later file would silently win): `never` when each lives in one. */
type Repeated<Parts extends readonly Part[], Seen = never> = Parts extends readonly [infer First extends Part, ...infer Rest extends Part[]]
  ? Extract<keyof First['zh-CN'], Seen> | Repeated<Rest, Seen | keyof First['zh-CN']>
  : never;
/** The keys a file has in one language only: `never` when both languages have every key. */
type Lopsided<P> = P extends { 'zh-CN': infer Zh; en: infer En } ? Exclude<keyof Zh, keyof En> | Exclude<keyof En, keyof Zh> : never;
type None<Keys extends never> = Keys;
/** These fail `tsc`, naming the key, when a key is defined in two files or a file lacks a key in one language. */
export type NoKeyInTwoFiles = None<Repeated<typeof parts>>;
export type EveryKeyInBothLanguages = None<Lopsided<Part>>;

const compose = (lang: Lang): Record<MessageKey, string> => Object.assign({}, ...parts.map((part) => part[lang]));
export const messages: Record<Lang, Record<MessageKey, string>> = { 'zh-CN': compose('zh-CN'), en: compose('en') };

interface I18n {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: (key: MessageKey) => string;
  /** A message if one exists for `key`, else undefined (for keys that come from data). */
  maybe: (key: string) => string | undefined;
}

const I18nContext = createContext<I18n | null>(null);
const STORAGE_KEY = 'gridmap.lang';

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLang] = useState<Lang>(() => (localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'zh-CN'));
  useEffect(() => {
    localStorage.setItem(STORAGE_KEY, lang);
    document.documentElement.lang = lang;
  }, [lang]);
  const table: Record<string, string> = messages[lang];
  const value: I18n = { lang, setLang, t: (key) => table[key], maybe: (key) => table[key] };
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const i18n = useContext(I18nContext);
  if (!i18n) throw new Error('useI18n outside I18nProvider');
  return i18n;
}
