package main

import "testing"

// An explicit subscription given for an operational intent must cover
// its area as well as its time, as the InterUSS DSS requires (400
// otherwise), and an update of the subscription may not leave its
// intents uncovered.
func TestDSSSubscriptionCoversArea(t *testing.T) {
	s := startDSS(t)
	uss1 := s.tok("uss1", scSCD)
	subID := newID()
	sub := s.do("PUT", subPath+subID, uss1, subBody(circle(51.5, -0.1, 1000, 0, 300, at(0.5), at(4)), true, false)).want(t, 200).obj("subscription")

	dssMessage(t, s.do("PUT", oirPath+newID(), uss1, oirBody("Accepted", ext(51.5, -0.1, 5000, 0, 100, at(1), at(2)), nil, "subscription_id", subID)).want(t, 400))
	dssMessage(t, s.do("PUT", oirPath+newID(), uss1, oirBody("Accepted", ext(51.6, -0.1, 300, 0, 100, at(1), at(2)), nil, "subscription_id", subID)).want(t, 400))
	id := newID()
	s.do("PUT", oirPath+id, uss1, oirBody("Accepted", ext(51.5, -0.1, 300, 0, 100, at(1), at(2)), nil, "subscription_id", subID)).want(t, 201)

	// Moving the subscription away from its intent is refused; growing
	// it is not.
	v := str(sub["version"])
	dssMessage(t, s.do("PUT", subPath+subID+"/"+v, uss1, subBody(circle(51.6, -0.1, 1000, 0, 300, at(0.5), at(4)), true, false)).want(t, 400))
	s.do("PUT", subPath+subID+"/"+v, uss1, subBody(circle(51.5, -0.1, 3000, 0, 300, at(0.5), at(4)), true, false)).want(t, 200)
}
