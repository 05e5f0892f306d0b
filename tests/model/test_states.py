from service.model.states import DeliveryState, MailState


def test_a_queued_mail_moves_through_the_states_of_a_delivery():
    assert {state.value for state in MailState} == {"requested", "held"} | {state.value for state in DeliveryState}
    assert all(MailState[state.name] == state for state in DeliveryState)
