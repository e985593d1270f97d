// The auth feature's texts in both languages, composed into the interface's messages in web/src/i18n.tsx.
// `en` is typed by `zh`'s keys, so a text missing from either language (or only in one) fails `tsc`.

const zh = {
  'login.title': '登录',
  'login.username': '用户名',
  'login.invalid': '用户名或密码错误，或账号已停用',
  'login.demo': '演示账号（仅演示数据）',
  'login.demoPassword': '密码均为',
  'echo.link': '查看回音壁（无需登录）',
};

const en: Record<keyof typeof zh, string> = {
  'login.title': 'Sign in',
  'login.username': 'Username',
  'login.invalid': 'The username or password is wrong, or the account is disabled',
  'login.demo': 'Demo accounts (demo data only)',
  'login.demoPassword': 'Every password is',
  'echo.link': 'See the echo wall (no sign-in)',
};

export const authMessages = { 'zh-CN': zh, en };
