package main

// The listening socket: the one systemd (or any supervisor that speaks its
// socket-activation protocol) passes in, or one of our own on PORT. With
// an inherited socket the port never closes across a restart: the new
// process accepts on it before the old one stops.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
)

// listenFDsStart is the first file descriptor a supervisor passes: 3, after
// stdin, stdout and stderr.
const listenFDsStart = 3

// socketActivation reports whether the environment passes this process a
// listening socket, as systemd's sd_listen_fds(3) describes: LISTEN_PID is
// this process's pid and LISTEN_FDS counts the sockets, of which this
// service takes exactly one.
func socketActivation(lookupEnv lookupFunc, pid int) (bool, error) {
	pidVar, ok := lookupEnv("LISTEN_PID")
	if !ok || pidVar != strconv.Itoa(pid) {
		return false, nil // not for us (a parent's, say), or not there
	}
	if fds, _ := lookupEnv("LISTEN_FDS"); fds != "1" {
		return false, fmt.Errorf("LISTEN_FDS is %q: the service takes exactly one socket", fds)
	}
	return true, nil
}

// inheritedListener returns the listening socket passed as file descriptor
// 3. The process's copy of it is closed when the listener is; the socket
// itself stays open as long as the supervisor (or a successor) holds it.
func inheritedListener() (net.Listener, error) {
	f := os.NewFile(listenFDsStart, "inherited socket")
	if f == nil {
		return nil, errors.New("LISTEN_FDS=1 but file descriptor 3 is not open")
	}
	defer f.Close() // FileListener holds a duplicate
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("file descriptor 3 is not a listening socket: %w", err)
	}
	return ln, nil
}

// listen returns the inherited socket when there is one, and a socket of
// our own on addr otherwise; inherited says which.
func listen(activated bool, addr string) (ln net.Listener, inherited bool, err error) {
	if activated {
		ln, err = inheritedListener()
		return ln, true, err
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		return nil, false, fmt.Errorf("listen: %w", err)
	}
	return ln, false, nil
}
