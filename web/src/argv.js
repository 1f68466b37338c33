// argv.js splits a command line into words the way a POSIX shell would for
// plain words, 'single' and "double" quotes and backslash escapes, with no
// expansion: the words become the exec request's command parameters.

// splitArgs returns the words of line, or throws on an unclosed quote.
export function splitArgs(line) {
  const words = [];
  let word = null;
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = '';
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = '';
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word = word ?? '';
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new Error('unclosed ' + quote + ' quote');
  if (word !== null) words.push(word);
  return words;
}
