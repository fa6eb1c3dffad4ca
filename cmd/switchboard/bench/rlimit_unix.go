//go:build unix

package bench

import "syscall"

// raiseFileLimit lifts the soft limit on open files to the hard limit, for
// this process and every child it starts (limits are inherited): ten
// thousand clients and their server sockets need twenty thousand
// descriptors. When the hard limit is below want, it tries to raise that
// too (which only a privileged user may). It returns the limit now in
// force.
func raiseFileLimit(want uint64) (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Max < want {
		up := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			l = up
		}
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}
