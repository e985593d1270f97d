// pg's own conversion of a value to the text it binds (pg/lib/utils.js, an exported path of pg; @types/pg leaves it out)
declare module 'pg/lib/utils.js' {
  const utils: { prepareValue(value: unknown): string | Buffer | null };
  export default utils;
}
