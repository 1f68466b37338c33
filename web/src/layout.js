// layout.js shows and hides the sidebar (the pod list, the forms). On a
// wide screen it is a column beside the terminals, hidden by the user's
// choice; on a narrow one (a phone) it lies over the terminals, which keep
// the whole width, and it hides itself when a terminal opens. Each width
// keeps its own state, so turning a phone does not hide the list of a
// wide window. The toggle is the header's button or Ctrl+Shift+L.
const $ = (id) => document.getElementById(id);

export const narrowQuery = '(max-width: 700px)';
const narrow = () => window.matchMedia(narrowQuery).matches;
const hiddenClass = () => (narrow() ? 'side-hidden-narrow' : 'side-hidden-wide');

// sideShown reports whether the sidebar is shown at the current width.
export function sideShown() {
  return !$('app').classList.contains(hiddenClass());
}

function sync() {
  const on = sideShown();
  const b = $('side-toggle');
  b.setAttribute('aria-expanded', String(on));
  b.title = (on ? 'Hide' : 'Show') + ' the pod list (Ctrl+Shift+L)';
}

// showSide shows (on) or hides the sidebar at the current width. Focus in
// a sidebar that hides goes to the terminal (focusTerminal); a sidebar
// shown by keyboard takes it.
export function showSide(on, { focus = false, focusTerminal = () => {} } = {}) {
  const side = $('side');
  const had = side.contains(document.activeElement);
  $('app').classList.toggle(hiddenClass(), !on);
  if (!narrow()) localStorage.setItem('porthole.sideHidden', on ? '' : '1');
  sync();
  if (on && focus) $('namespace').focus();
  if (!on && had) focusTerminal();
}

export function toggleSide(opts) {
  showSide(!sideShown(), opts);
}

// terminalOpened hides the sidebar on a narrow screen, where it covers
// the terminal.
export function terminalOpened() {
  if (narrow()) showSide(false);
}

// wireSidebar connects the toggle; hasPanes() reports whether terminals
// are open (a phone turned narrow with terminals open hides the list).
export function wireSidebar(hasPanes, focusTerminal) {
  if (localStorage.getItem('porthole.sideHidden') === '1') $('app').classList.add('side-hidden-wide');
  $('side-toggle').addEventListener('click', () => toggleSide({ focusTerminal }));
  window.matchMedia(narrowQuery).addEventListener('change', () => {
    if (narrow() && hasPanes()) $('app').classList.add('side-hidden-narrow');
    sync();
  });
  sync();
}
