package ui

// listState is the cursor and scroll offset of a virtualised list: only the
// rows between offset and offset+height are ever rendered.
type listState struct {
	cursor, offset int
}

// clamp keeps cursor within n rows and the cursor inside a window of height.
func (l *listState) clamp(n, height int) {
	if height < 1 {
		height = 1
	}
	if l.cursor >= n {
		l.cursor = n - 1
	}
	if l.cursor < 0 {
		l.cursor = 0
	}
	if l.offset > l.cursor {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+height {
		l.offset = l.cursor - height + 1
	}
	if max := n - height; l.offset > max {
		l.offset = max
	}
	if l.offset < 0 {
		l.offset = 0
	}
}

func (l *listState) move(delta, n, height int) {
	l.cursor += delta
	l.clamp(n, height)
}

func (l *listState) top()            { l.cursor, l.offset = 0, 0 }
func (l *listState) bottom(n, h int) { l.cursor = n - 1; l.clamp(n, h) }

// visible returns the range of rows to draw.
func (l *listState) visible(n, height int) (from, to int) {
	from = l.offset
	to = from + height
	if to > n {
		to = n
	}
	if from > to {
		from = to
	}
	return from, to
}
