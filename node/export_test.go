package node

// PFBuffersInUse is how many port-forward read buffers are lent out, and
// PFBufferGets how many were ever taken.
func PFBuffersInUse() int64 { return pfPool.InUse() }
func PFBufferGets() int64   { return pfPool.Gets() }
