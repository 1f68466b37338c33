package term

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/porthole/porthole/client"
)

// AddResumeFlag adds --resume-timeout, shared by exec and attach.
func AddResumeFlag(fs *pflag.FlagSet, d *time.Duration) {
	fs.DurationVar(d, "resume-timeout", client.DefaultResumeFor, "when the connection is cut, try this long to resume the session through porthole's gateway (0: do not resume; other servers never resume)")
}

// Resume asks for a session that resumes after a cut (through porthole's
// gateway; other servers run it as before) for up to timeout, printing one
// line on errOut as the connection is lost and as the session resumes. A
// raw terminal needs the carriage returns. A zero timeout asks for none.
func Resume(errOut io.Writer, tty bool, timeout time.Duration) *client.ResumeOptions {
	if timeout <= 0 {
		return nil
	}
	eol := "\n"
	if tty {
		eol = "\r\n"
	}
	return &client.ResumeOptions{For: timeout, Notify: func(line string) {
		if tty && strings.HasPrefix(line, "connection lost") {
			line = "\r\n" + line // off the remote screen's current line
		}
		fmt.Fprint(errOut, line+eol)
	}}
}
