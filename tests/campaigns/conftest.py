import pytest

from campaigns.models import Campaign, Step, StepKind
from providers import Provider
from tests.factories import ChannelFactory


@pytest.fixture
def sms_channel(organization):
    return ChannelFactory(
        organization=organization, provider=Provider.TWILIO, name="Sales SMS", phone_number_id=""
    )


@pytest.fixture
def campaign(organization, sms_channel):
    """A draft SMS campaign of two text steps."""
    campaign = Campaign.objects.create(
        organization=organization, channel=sms_channel, name="Spring outreach"
    )
    Step.objects.create(
        campaign=campaign, position=1, kind=StepKind.TEXT, text="Hi {{first_name|there}}!"
    )
    Step.objects.create(
        campaign=campaign,
        position=2,
        kind=StepKind.TEXT,
        delay_amount=2,
        text="{{first_name}}, how is {{company}} doing?",
    )
    return campaign
