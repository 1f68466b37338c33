// keys.js maps the page's keyboard shortcuts. They are taken only where a
// shell or a full-screen program loses nothing: Ctrl+Shift+letter (a
// terminal sends the same byte as Ctrl+letter, so programs cannot tell
// them apart), Ctrl+Shift+PageUp/PageDown, and Ctrl+= / Ctrl+- / Ctrl+0
// as in desktop terminals. Ctrl+C copies only while text is selected, as
// Windows Terminal and VS Code do; without a selection it stays ^C.

// shortcuts lists the keys for the page's help, in the order shown.
export const shortcuts = [
  ['Ctrl+Shift+C', 'copy the selection (so does selecting, and Ctrl+C while text is selected)'],
  ['Ctrl+Shift+V', 'paste'],
  ['Ctrl+Shift+F', 'search the scrollback (Enter: older, Shift+Enter: newer, Esc: back)'],
  ['Ctrl+Shift+PageUp / PageDown', 'previous / next tab'],
  ['Ctrl+Shift+Escape', 'leave the terminal: focus goes to the tabs (arrows pick a tab, Tab moves on)'],
  ['Ctrl+= / Ctrl+- / Ctrl+0', 'larger / smaller / default font'],
  ['Ctrl+Shift+L', 'show or hide the pod list'],
];

// keyAction names what a keydown does on the page, or returns '' for a
// key that goes to the terminal (or the browser). ev is a KeyboardEvent
// (or its key, code, ctrlKey, shiftKey, altKey, metaKey); where says where
// the focus is: 'terminal', 'tabs' or 'page'; selected says whether the
// terminal has a selection.
export function keyAction(ev, where, selected = false) {
  if (ev.altKey || ev.metaKey) return '';
  const ctrl = ev.ctrlKey;
  const shift = ev.shiftKey;
  const key = ev.key && ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
  if (ctrl && shift && (key === 'PageUp' || key === 'PageDown')) return key === 'PageUp' ? 'prevTab' : 'nextTab';
  if (ctrl && shift && (ev.code === 'KeyL' || key === 'l')) return 'toggleSide';
  if (where !== 'terminal') return '';
  if (ctrl && shift) {
    if (ev.code === 'KeyC' || key === 'c') return 'copy';
    if (ev.code === 'KeyV' || key === 'v') return 'paste';
    if (ev.code === 'KeyF' || key === 'f') return 'search';
    if (key === 'Escape') return 'leave';
  }
  if (ctrl && !shift && key === 'c' && selected) return 'copy';
  if (ctrl && (key === '=' || key === '+')) return 'fontUp';
  if (ctrl && !shift && (key === '-' || key === '_')) return 'fontDown';
  if (ctrl && !shift && key === '0') return 'fontReset';
  return '';
}

// Font sizes, in CSS pixels.
export const fontDefault = 14;
export const fontMin = 8;
export const fontMax = 32;

// nextFontSize is the size after action ('fontUp', 'fontDown',
// 'fontReset') from size, within [fontMin, fontMax].
export function nextFontSize(size, action) {
  if (action === 'fontReset') return fontDefault;
  const n = size + (action === 'fontUp' ? 1 : action === 'fontDown' ? -1 : 0);
  return Math.min(fontMax, Math.max(fontMin, n));
}
