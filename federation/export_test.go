package federation

import "time"

// SetEchoLinger sets how long the node holds a pull that only echoes of
// the puller's work woke (echoLinger), for the pulls that arrive after.
func SetEchoLinger(n *Node, d time.Duration) { n.echoLinger.Store(int64(d)) }
