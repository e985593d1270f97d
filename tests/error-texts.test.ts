import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../server/domain/errors.ts';
import { ERROR_TEXTS, problemText } from '../web/src/errors.ts';

describe("the web's words for the API's error codes", () => {
  it('has a Chinese and an English text for every code the server can raise, and none for a code it cannot', () => {
    for (const lang of ['zh-CN', 'en'] as const) {
      const texts = ERROR_TEXTS[lang] as Record<string, string>;
      expect(
        ERROR_CODES.filter((code) => !texts[code]?.trim()),
        lang,
      ).toEqual([]);
      expect(
        Object.keys(texts).filter((code) => !(ERROR_CODES as string[]).includes(code)),
        lang,
      ).toEqual([]);
    }
    expect(ERROR_CODES.filter((code) => !/[\u4e00-\u9fff]/.test(ERROR_TEXTS['zh-CN'][code]))).toEqual([]);
  });

  it("says a known code in the user's language with its params, and an unknown one in the server's words", () => {
    const refused = {
      code: 'account.too_many_failed_logins',
      params: { field: 'username', minutes: 15 },
      detail: 'too many failed logins for this user: try again in 15 minutes',
    };
    expect(problemText(refused, 'zh-CN')).toBe('登录失败次数过多，请 15 分钟后再试');
    expect(problemText(refused, 'en')).toBe('Too many failed logins: try again in 15 minutes');
    expect(problemText({ code: 'some.future_code', detail: 'a newer server said this', title: 'Later' }, 'zh-CN')).toBe(
      'a newer server said this',
    );
    expect(problemText({ title: 'Bad Gateway' }, 'zh-CN')).toBe('Bad Gateway');
    // a field is named as the interface names it, in the reader's language
    const taken = { code: 'database.taken', params: { field: 'username' }, detail: 'username walker1 is already taken' };
    expect(problemText(taken, 'zh-CN')).toBe('用户名已被占用');
    // a value entered wrong: the field, then the rule it broke, in the reader's words
    const short = {
      code: 'request.invalid_body',
      params: { field: 'password', rule: 'too_small_string', limit: 10 },
      detail: 'password: a password has at least 10 characters',
    };
    expect(problemText(short, 'zh-CN')).toBe('密码：至少 10 个字符');
    expect(problemText(short, 'en')).toBe('Password: at least 10 characters');
    expect(problemText({ ...short, params: { field: 'password', rule: 'custom' } }, 'zh-CN')).toBe('填写的内容有误：密码');
    // positive(): 0 is refused, so not "at least 0"
    expect(
      problemText({ code: 'request.invalid_body', params: { field: 'member_id', rule: 'too_small_number_exclusive', limit: 0 } }, 'zh-CN'),
    ).toBe('党员编号：须大于 0');
    expect(problemText(taken, 'en')).toBe('User name is already taken');
  });

  it('gives every value a text names where the server raises its code', async () => {
    // each `new DomainError('code', …)` of the server, read as written: its extensions and params name the text's values
    const files = (await readdir('server', { recursive: true })).filter((f) => f.endsWith('.ts'));
    const missing: string[] = [];
    for (const file of files) {
      const text = await readFile(join('server', file), 'utf8');
      for (const match of text.matchAll(/new DomainError\(\s*'([a-z0-9_.]+)'/g)) {
        // the call's text, to its closing parenthesis
        let depth = 0;
        let end = match.index;
        for (; end < text.length; end++) {
          if (text[end] === '(') depth++;
          if (text[end] === ')' && --depth === 0) break;
        }
        // the call's code, its words left out (`No grid ${id}` names no param)
        const call = text
          .slice(match.index, end)
          .replace(/`[^`]*`/g, '``')
          .replace(/"[^"]*"/g, '""')
          .replace(/'[^']*'/g, "''");
        for (const lang of ['zh-CN', 'en'] as const) {
          const words = (ERROR_TEXTS[lang] as Record<string, string>)[match[1]] ?? '';
          for (const [, name] of words.matchAll(/\{(\w+)\}/g)) {
            if (!new RegExp(`[{,]\\s*${name}\\b`).test(call)) missing.push(`${file}: ${match[1]} {${name}}`);
          }
        }
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });
});
