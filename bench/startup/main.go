// Command startup measures how fast a server binary becomes usable and how
// much memory it holds idle: exec until its TCP port accepts, then its RSS
// one second later. It runs each server several times and prints medians,
// so figures measured in one run can be compared as ratios.
//
//	go run ./bench/startup -runs 5 -- NAME 'COMMAND with {port}' [NAME 'COMMAND' ...]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	runs := flag.Int("runs", 5, "runs per server")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 || len(args)%2 != 0 {
		fmt.Fprintln(os.Stderr, "usage: startup [-runs N] NAME 'COMMAND with {port}' ...")
		os.Exit(2)
	}
	fmt.Printf("%-16s %12s %12s   (median of %d; exec until the port accepts; RSS 1 s later)\n", "server", "ready ms", "RSS MB", *runs)
	for i := 0; i < len(args); i += 2 {
		name, command := args[i], args[i+1]
		var ready []time.Duration
		var rss []int
		for r := 0; r < *runs; r++ {
			d, kb, err := measure(command)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
				os.Exit(1)
			}
			ready = append(ready, d)
			rss = append(rss, kb)
		}
		sort.Slice(ready, func(a, b int) bool { return ready[a] < ready[b] })
		sort.Ints(rss)
		fmt.Printf("%-16s %12.1f %12.1f\n", name, float64(ready[len(ready)/2].Microseconds())/1000, float64(rss[len(rss)/2])/1024)
	}
}

// measure starts one server on a free port and returns its time to accept
// and its RSS in KiB one second later.
func measure(command string) (time.Duration, int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	argv := strings.Fields(strings.ReplaceAll(command, "{port}", port))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = os.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	var ready time.Duration
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			ready = time.Since(begin)
			c.Close()
			break
		}
		if time.Since(begin) > 30*time.Second {
			return 0, 0, fmt.Errorf("%q did not accept within 30s", command)
		}
		time.Sleep(200 * time.Microsecond)
	}
	time.Sleep(time.Second)
	kb, err := rssKiB(cmd.Process.Pid)
	return ready, kb, err
}

// rssKiB returns the RSS of pid and its descendants (nginx's workers
// count with its master), in KiB.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	kb := -1
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			if kb, err = strconv.Atoi(f[1]); err != nil {
				return 0, err
			}
		}
	}
	if kb < 0 {
		return 0, fmt.Errorf("no VmRSS for pid %d", pid)
	}
	for _, child := range children(pid) {
		ckb, err := rssKiB(child)
		if err != nil {
			return 0, err
		}
		kb += ckb
	}
	return kb, nil
}

// children lists pid's child processes, from each of its threads.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var pids []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids
}
