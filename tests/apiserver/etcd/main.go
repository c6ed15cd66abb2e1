// Command etcd is etcd's own server entry point, built from go.etcd.io/etcd/server/v3
// so that the test API server gets the etcd version kubernetes 1.34 is tested with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
