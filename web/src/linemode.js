// linemode.js is the page's line discipline for sessions without a tty,
// where no remote terminal echoes input or understands ^D. Like a
// terminal in canonical mode it echoes locally, edits the line with
// Backspace and sends it on Enter (with \n, as a pipe reader expects);
// Ctrl-D sends a partial line as is, and at an empty line ends stdin with
// the v5 close signal.

// LineMode handles xterm's onData strings. echo(text) writes to the
// terminal; send(text) sends stdin; eof() closes stdin.
export class LineMode {
  constructor(echo, send, eof) {
    this.echo = echo;
    this.send = send;
    this.eof = eof;
    this.line = '';
  }

  input(data) {
    if (data.startsWith('\x1b')) return; // arrows, function keys: no remote meaning without a tty
    for (const ch of data) this.key(ch);
  }

  key(ch) {
    switch (ch) {
      case '\r':
      case '\n':
        this.echo('\r\n');
        this.send(this.line + '\n');
        this.line = '';
        return;
      case '\x7f':
      case '\b':
        if (this.line) {
          this.line = [...this.line].slice(0, -1).join('');
          this.echo('\b \b');
        }
        return;
      case '\x04':
        if (this.line) {
          this.send(this.line);
          this.line = '';
        } else {
          this.eof();
        }
        return;
      case '\x15': // Ctrl-U: kill the line
        this.echo('\b \b'.repeat([...this.line].length));
        this.line = '';
        return;
      default:
        if (ch < ' ') return; // other control keys have no remote meaning without a tty
        this.line += ch;
        this.echo(ch);
    }
  }
}
